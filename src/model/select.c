/*-------------------------------------------------------------------------
 *
 * select.c
 *	  Model selection: dbt's selector grammar over the model graph, and the
 *	  order a run builds the selected models in.
 *
 * pipeline._model_plan(selector, exclude) reads the models the caller can
 * see (pipeline.models, under its row security) and the edges between them
 * (pipeline.model_edges rows whose upstream is a model) once, into arrays,
 * and evaluates the selector in memory, so planning a run over a thousand
 * models costs two catalog scans and a few array passes:
 *
 *	selector  := term { whitespace term }          union
 *	term      := atom { ',' atom }                 intersection
 *	atom      := '@' body                          body, its descendants and
 *	                                               every ancestor of those
 *	           | [ [N] '+' ] body [ '+' [N] ]      N generations (all without N)
 *	                                               of ancestors / descendants
 *	body      := 'tag:' tag | 'schema:' schema | [ 'name:' ] name
 *
 * A name is a model's qualified name (schema.relation) or, when that is
 * unique among the caller's models, its relation name alone.  An unknown
 * name is an error (with the closest name as a hint); a tag or schema that
 * matches nothing selects nothing (a scheduled build of an empty tag is not
 * a failure).  An empty selector selects every model.  exclude uses the
 * same grammar; what it selects is taken out.
 *
 * The graph is walked through every model, but disabled models are never
 * selected.  The result comes in dependency order: by level (1 + the
 * largest level of the model's upstream models; 0 for a model that reads
 * no model), then by name, so every model comes after what it reads.  For
 * each selected model, "upstream" lists the nearest selected models it
 * depends on, through models that are not selected and through ephemeral
 * ones (which are never built): a run skips a model when one of those
 * failed, as dbt's subset graph keeps the transitive edges.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/varlena.h"

#include "common/pipeline.h"
#include "model/model.h"

#define UNLIMITED	(-1)

typedef struct ModelNode
{
	int32		model_id;
	char	   *name;			/* schema.relation */
	char	   *schema;
	char	   *relation;
	char	   *materialized;
	bool		enabled;
	int			ntags;
	char	  **tags;
	int			nup;			/* models it reads */
	int		   *up;
	int			ndown;			/* models that read it */
	int		   *down;
	int			level;			/* dependency depth, see the header */
} ModelNode;

typedef struct ModelGraph
{
	int			n;
	ModelNode  *nodes;			/* by model_id */
} ModelGraph;

/* the index of model_id in the graph (nodes are sorted by id), or -1 */
static int
node_index(ModelGraph *g, int32 model_id)
{
	int			lo = 0,
				hi = g->n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (g->nodes[mid].model_id == model_id)
			return mid;
		if (g->nodes[mid].model_id < model_id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static char *
text_column(HeapTuple tuple, TupleDesc desc, int col)
{
	char	   *value = SPI_getvalue(tuple, desc, col);

	return value ? value : pstrdup("");
}

/*
 * The models and edges the caller can see.  Caller is connected to SPI;
 * the graph is allocated in CurrentMemoryContext of the caller (the SPI
 * results are copied out before SPI_finish frees them).
 */
static ModelGraph *
load_graph(MemoryContext into)
{
	ModelGraph *g = MemoryContextAllocZero(into, sizeof(ModelGraph));
	MemoryContext old;
	int32	   *edge_from;
	int32	   *edge_to;
	int			nedges;

	if (SPI_execute("SELECT m.model_id, m.name, m.schema_name::text, m.relation_name::text, "
					"m.materialized, m.enabled, m.tags "
					"FROM pipeline.models m ORDER BY m.model_id", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.models");

	old = MemoryContextSwitchTo(into);
	g->n = (int) SPI_processed;
	g->nodes = palloc0(sizeof(ModelNode) * Max(g->n, 1));
	for (int i = 0; i < g->n; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		ModelNode  *node = &g->nodes[i];
		bool		isnull;
		Datum		tags;

		node->model_id = DatumGetInt32(SPI_getbinval(tuple, desc, 1, &isnull));
		node->name = text_column(tuple, desc, 2);
		node->schema = text_column(tuple, desc, 3);
		node->relation = text_column(tuple, desc, 4);
		node->materialized = text_column(tuple, desc, 5);
		node->enabled = DatumGetBool(SPI_getbinval(tuple, desc, 6, &isnull));
		tags = SPI_getbinval(tuple, desc, 7, &isnull);
		if (!isnull)
			node->tags = pp_text_array_cstrings(tags, &node->ntags, true);
	}
	MemoryContextSwitchTo(old);

	if (SPI_execute("SELECT e.model_id, e.upstream_model_id FROM pipeline.model_edges e "
					"WHERE e.upstream_model_id IS NOT NULL", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pipeline.model_edges");

	nedges = (int) SPI_processed;
	edge_from = palloc(sizeof(int32) * Max(nedges, 1));
	edge_to = palloc(sizeof(int32) * Max(nedges, 1));
	for (int i = 0; i < nedges; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		bool		isnull;

		/* upstream -> model; an edge to a model the caller cannot see is dropped */
		edge_from[i] = node_index(g, DatumGetInt32(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 2, &isnull)));
		edge_to[i] = node_index(g, DatumGetInt32(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 1, &isnull)));
		if (edge_from[i] >= 0 && edge_to[i] >= 0)
		{
			g->nodes[edge_from[i]].ndown++;
			g->nodes[edge_to[i]].nup++;
		}
	}

	old = MemoryContextSwitchTo(into);
	for (int i = 0; i < g->n; i++)
	{
		g->nodes[i].up = palloc(sizeof(int) * Max(g->nodes[i].nup, 1));
		g->nodes[i].down = palloc(sizeof(int) * Max(g->nodes[i].ndown, 1));
		g->nodes[i].nup = g->nodes[i].ndown = 0;
	}
	MemoryContextSwitchTo(old);
	for (int i = 0; i < nedges; i++)
	{
		if (edge_from[i] < 0 || edge_to[i] < 0)
			continue;
		g->nodes[edge_from[i]].down[g->nodes[edge_from[i]].ndown++] = edge_to[i];
		g->nodes[edge_to[i]].up[g->nodes[edge_to[i]].nup++] = edge_from[i];
	}
	return g;
}

/*
 * Levels by Kahn's algorithm; a cycle (create_model refuses them, but a
 * catalog edited by hand may hold one) is an error naming its models.
 */
static void
compute_levels(ModelGraph *g)
{
	int		   *pending = palloc(sizeof(int) * Max(g->n, 1));
	int		   *queue = palloc(sizeof(int) * Max(g->n, 1));
	int			head = 0,
				tail = 0;

	for (int i = 0; i < g->n; i++)
	{
		pending[i] = g->nodes[i].nup;
		g->nodes[i].level = 0;
		if (pending[i] == 0)
			queue[tail++] = i;
	}
	while (head < tail)
	{
		ModelNode  *node = &g->nodes[queue[head++]];

		for (int j = 0; j < node->ndown; j++)
		{
			int			d = node->down[j];

			g->nodes[d].level = Max(g->nodes[d].level, node->level + 1);
			if (--pending[d] == 0)
				queue[tail++] = d;
		}
	}
	if (tail < g->n)
	{
		StringInfoData names;
		int			listed = 0;

		initStringInfo(&names);
		for (int i = 0; i < g->n && listed < 10; i++)
			if (pending[i] > 0)
				appendStringInfo(&names, "%s\"%s\"", listed++ ? ", " : "", g->nodes[i].name);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("the models' dependencies form a cycle"),
				 errdetail("Models on or after the cycle: %s.", names.data),
				 errhint("Change one model of the cycle with pipeline.alter_model.")));
	}
	pfree(pending);
	pfree(queue);
}

/*
 * Add to set the models up to depth generations (UNLIMITED: all) upstream
 * (up) or downstream of the models already in it.
 */
static void
expand(ModelGraph *g, bool *set, bool up, int depth)
{
	int		   *frontier = palloc(sizeof(int) * Max(g->n, 1));
	int		   *next = palloc(sizeof(int) * Max(g->n, 1));
	int			nfrontier = 0;

	for (int i = 0; i < g->n; i++)
		if (set[i])
			frontier[nfrontier++] = i;
	for (int generation = 0; nfrontier > 0 && (depth == UNLIMITED || generation < depth); generation++)
	{
		int			nnext = 0;

		for (int f = 0; f < nfrontier; f++)
		{
			ModelNode  *node = &g->nodes[frontier[f]];
			int			count = up ? node->nup : node->ndown;
			int		   *edges = up ? node->up : node->down;

			for (int j = 0; j < count; j++)
				if (!set[edges[j]])
				{
					set[edges[j]] = true;
					next[nnext++] = edges[j];
				}
		}
		memcpy(frontier, next, sizeof(int) * nnext);
		nfrontier = nnext;
	}
	pfree(frontier);
	pfree(next);
}

static void
syntax_error(const char *atom, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid model selector \"%s\"", atom),
			 errdetail("%s", why),
			 errhint("A selector is a model's name, tag:x or schema:x, with +, N+ before "
					 "(ancestors) or +, +N after (descendants), or @ before; "
					 "space means union, comma intersection.")));
}

/* The closest name of a visible model to name, or NULL when none is close. */
static const char *
closest_name(ModelGraph *g, const char *name)
{
	const char *best = NULL;
	int			best_distance = Max(3, (int) strlen(name) / 3) + 1;
	int			len = strlen(name);

	for (int i = 0; i < g->n; i++)
	{
		const char *candidates[2] = {g->nodes[i].name, g->nodes[i].relation};

		for (int c = 0; c < 2; c++)
		{
			int			d = varstr_levenshtein_less_equal(name, len, candidates[c],
														  strlen(candidates[c]),
														  1, 1, 1, best_distance, true);

			if (d < best_distance)
			{
				best_distance = d;
				best = g->nodes[i].name;
			}
		}
	}
	return best;
}

/* Select into set the models a name means: see the file header. */
static void
match_name(ModelGraph *g, const char *name, bool *set)
{
	int			found = -1;
	int			nfound = 0;
	StringInfoData names;

	for (int i = 0; i < g->n; i++)
		if (strcmp(g->nodes[i].name, name) == 0)
		{
			set[i] = true;
			return;
		}
	initStringInfo(&names);
	if (strchr(name, '.') == NULL)
	{
		for (int i = 0; i < g->n; i++)
			if (strcmp(g->nodes[i].relation, name) == 0)
			{
				appendStringInfo(&names, "%s\"%s\"", nfound ? ", " : "", g->nodes[i].name);
				found = i;
				nfound++;
			}
	}
	if (nfound == 1)
	{
		set[found] = true;
		return;
	}
	if (nfound > 1)
		ereport(ERROR,
				(errcode(ERRCODE_AMBIGUOUS_PARAMETER),
				 errmsg("model name \"%s\" is ambiguous", name),
				 errdetail("It names %s.", names.data),
				 errhint("Qualify the name with its schema.")));
	{
		const char *close = closest_name(g, name);

		if (close)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s\" does not exist", name),
					 errhint("Did you mean \"%s\"?", close)));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", name),
				 errhint("pipeline.models lists the models you can see.")));
	}
}

static void
match_method(ModelGraph *g, const char *atom, const char *method, const char *value, bool *set)
{
	if (value[0] == '\0')
		syntax_error(atom, psprintf("The method \"%s\" needs a value after the colon.", method));
	if (strcmp(method, "tag") == 0)
	{
		for (int i = 0; i < g->n; i++)
			for (int j = 0; j < g->nodes[i].ntags; j++)
				if (strcmp(g->nodes[i].tags[j], value) == 0)
					set[i] = true;
	}
	else if (strcmp(method, "schema") == 0)
	{
		for (int i = 0; i < g->n; i++)
			if (strcmp(g->nodes[i].schema, value) == 0)
				set[i] = true;
	}
	else if (strcmp(method, "name") == 0)
		match_name(g, value, set);
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown model selector method \"%s\"", method),
				 errhint("The methods are tag:, schema: and name:.")));
}

/* leading digits of *s as a depth (advancing *s), or UNLIMITED when none */
static int
read_depth(const char *atom, const char **s)
{
	long		depth = 0;
	bool		any = false;

	while (**s >= '0' && **s <= '9')
	{
		depth = depth * 10 + (**s - '0');
		if (depth > 100000)
			syntax_error(atom, "A depth is at most 100000.");
		any = true;
		(*s)++;
	}
	return any ? (int) depth : UNLIMITED;
}

/* Add to set base and its relatives (expand) up to depth generations. */
static void
add_relatives(ModelGraph *g, bool *set, const bool *base, bool up, int depth)
{
	bool	   *relatives = palloc(sizeof(bool) * Max(g->n, 1));

	memcpy(relatives, base, sizeof(bool) * g->n);
	expand(g, relatives, up, depth);
	for (int i = 0; i < g->n; i++)
		set[i] |= relatives[i];
	pfree(relatives);
}

/* Select into set the models one atom means. */
static void
select_atom(ModelGraph *g, const char *atom, bool *set)
{
	const char *s = atom;
	const char *end = atom + strlen(atom);
	const char *body_end;
	const char *colon;
	bool		at = false;
	bool		ancestors = false;
	bool		descendants = false;
	int			up_depth = UNLIMITED;
	int			down_depth = UNLIMITED;
	char	   *body;
	bool	   *base = palloc0(sizeof(bool) * Max(g->n, 1));

	if (*s == '@')
	{
		at = true;
		s++;
	}
	else
	{
		/* "N+" or "+" before the body; digits without "+" are the name's */
		const char *p = s;
		int			depth = read_depth(atom, &p);

		if (*p == '+')
		{
			ancestors = true;
			up_depth = depth;
			s = p + 1;
		}
	}

	/* "+" or "+N" after it */
	body_end = end;
	{
		const char *p = end;

		while (p > s && p[-1] >= '0' && p[-1] <= '9')
			p--;
		if (p > s && p[-1] == '+')
		{
			descendants = true;
			if (p < end)
			{
				const char *q = p;

				down_depth = read_depth(atom, &q);
			}
			body_end = p - 1;
		}
	}
	if (at && descendants)
		syntax_error(atom, "@ cannot be combined with +.");
	if (body_end <= s)
		syntax_error(atom, "It names no model.");
	body = pnstrdup(s, body_end - s);
	if (strchr(body, '+') != NULL || strchr(body, '@') != NULL)
		syntax_error(atom, "+ and @ may only come before or after the model.");

	colon = strchr(body, ':');
	if (colon)
		match_method(g, atom, pnstrdup(body, colon - body), colon + 1, base);
	else
		match_name(g, body, base);

	memcpy(set, base, sizeof(bool) * g->n);
	if (at)
	{
		expand(g, set, false, UNLIMITED);
		expand(g, set, true, UNLIMITED);
	}
	else
	{
		if (ancestors)
			add_relatives(g, set, base, true, up_depth);
		if (descendants)
			add_relatives(g, set, base, false, down_depth);
	}
	pfree(base);
}

/*
 * The models a whole selector means (see the file header), into set.
 * Returns false when the selector is empty (or only blanks).
 */
static bool
select_models(ModelGraph *g, const char *selector, bool *set)
{
	char	   *copy = pstrdup(selector);
	char	   *term_save = NULL;
	bool		any = false;
	bool	   *term_set = palloc(sizeof(bool) * Max(g->n, 1));
	bool	   *atom_set = palloc(sizeof(bool) * Max(g->n, 1));

	memset(set, 0, sizeof(bool) * g->n);
	for (char *term = strtok_r(copy, " \t\r\n", &term_save); term != NULL;
		 term = strtok_r(NULL, " \t\r\n", &term_save))
	{
		char	   *atom_save = NULL;
		bool		first = true;

		if (term[0] == ',' || term[strlen(term) - 1] == ',' || strstr(term, ",,") != NULL)
			syntax_error(term, "A comma joins two selectors, with no space around it.");
		for (char *atom = strtok_r(term, ",", &atom_save); atom != NULL;
			 atom = strtok_r(NULL, ",", &atom_save))
		{
			memset(atom_set, 0, sizeof(bool) * g->n);
			select_atom(g, atom, atom_set);
			for (int i = 0; i < g->n; i++)
				term_set[i] = first ? atom_set[i] : (term_set[i] && atom_set[i]);
			first = false;
		}
		for (int i = 0; i < g->n; i++)
			set[i] |= term_set[i];
		any = true;
	}
	pfree(copy);
	pfree(term_set);
	pfree(atom_set);
	return any;
}

/* order of the plan: by level, then by name */
static int
plan_order(const void *a, const void *b, void *arg)
{
	ModelGraph *g = (ModelGraph *) arg;
	const ModelNode *x = &g->nodes[*(const int *) a];
	const ModelNode *y = &g->nodes[*(const int *) b];

	if (x->level != y->level)
		return x->level < y->level ? -1 : 1;
	return strcmp(x->name, y->name);
}

static bool
built(ModelNode *node)
{
	return strcmp(node->materialized, "ephemeral") != 0;
}

/*
 * The nearest built, selected models upstream of node (through models
 * that are not), as an int4[] of model ids.  seen is scratch of g->n
 * ints, stamp a value not yet in it.
 */
static Datum
selected_upstream(ModelGraph *g, int node, const bool *set, int *seen, int stamp, int *stack)
{
	int			depth = 0;
	int			nresult = 0;
	Datum	   *result = palloc(sizeof(Datum) * Max(g->n, 1));

	stack[depth++] = node;
	while (depth > 0)
	{
		ModelNode  *n = &g->nodes[stack[--depth]];

		for (int j = 0; j < n->nup; j++)
		{
			int			u = n->up[j];

			if (seen[u] == stamp)
				continue;
			seen[u] = stamp;
			if (set[u] && built(&g->nodes[u]))
				result[nresult++] = Int32GetDatum(g->nodes[u].model_id);
			else
				stack[depth++] = u;
		}
	}
	return PointerGetDatum(construct_array(result, nresult, INT4OID, sizeof(int32), true,
										   TYPALIGN_INT));
}

/*
 * pipeline._model_plan(selector text, exclude text)
 *		RETURNS TABLE(model_id int, model text, materialized text,
 *					  level int, upstream int[])
 *		The models the selector means, but not those exclude means, in
 *		dependency order (see the file header).
 */
PG_FUNCTION_INFO_V1(pipeline_model_plan);
Datum
pipeline_model_plan(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *selector = PG_ARGISNULL(0) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *exclude = PG_ARGISNULL(1) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	MemoryContext context = CurrentMemoryContext;
	ModelGraph *g;
	bool	   *set;
	bool	   *excluded;
	int		   *order;
	int		   *seen;
	int		   *stack;
	int			nselected = 0;

	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	g = load_graph(context);
	SPI_finish();

	compute_levels(g);
	set = palloc(sizeof(bool) * Max(g->n, 1));
	excluded = palloc(sizeof(bool) * Max(g->n, 1));
	if (!select_models(g, selector, set))
		memset(set, true, sizeof(bool) * g->n); /* empty: every model */
	if (select_models(g, exclude, excluded))
		for (int i = 0; i < g->n; i++)
			set[i] = set[i] && !excluded[i];

	order = palloc(sizeof(int) * Max(g->n, 1));
	for (int i = 0; i < g->n; i++)
	{
		set[i] = set[i] && g->nodes[i].enabled;
		if (set[i])
			order[nselected++] = i;
	}
	qsort_arg(order, nselected, sizeof(int), plan_order, g);

	seen = palloc0(sizeof(int) * Max(g->n, 1));
	stack = palloc(sizeof(int) * Max(g->n, 1));
	for (int k = 0; k < nselected; k++)
	{
		ModelNode  *node = &g->nodes[order[k]];
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		values[0] = Int32GetDatum(node->model_id);
		values[1] = CStringGetTextDatum(node->name);
		values[2] = CStringGetTextDatum(node->materialized);
		values[3] = Int32GetDatum(node->level);
		values[4] = selected_upstream(g, order[k], set, seen, k + 1, stack);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
