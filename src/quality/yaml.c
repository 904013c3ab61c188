/*-------------------------------------------------------------------------
 *
 * yaml.c
 *	  pipeline.parse_yaml(text) RETURNS jsonb: one YAML document as jsonb,
 *	  read by libyaml (the parser PyYAML and most tools wrap), for data
 *	  contracts (control/sql/contract.sql) written in YAML.
 *
 * libyaml's event API drives a small builder: each scalar, sequence and
 * mapping becomes a palloc'd YamlNode; an open sequence or mapping sits on
 * an explicit stack, at most YAML_MAX_DEPTH deep (libyaml slows down
 * quadratically with the depth of flow collections).
 * When the document ends, the tree is written out with pushJsonbValue.
 *
 * Typing follows the YAML 1.2 core schema, as JSON tools expect: a plain
 * (unquoted, untagged) scalar is null (~, null, empty), a boolean
 * (true/false in three spellings), an integer (decimal, 0o octal, 0x hex)
 * or a float; anything else, and every quoted or block scalar, is a
 * string.  So 'on' and 'yes' stay strings (YAML 1.1 made them booleans),
 * '012' is the integer 12 (1.1 read it as octal), '"42"' is a string.  An explicit !!str,
 * !!int, !!float, !!bool or !!null is honoured (a value that is not of its
 * tag's type is refused); other tags are refused.  .inf and .nan have no
 * jsonb form and are refused.  Mapping keys are taken as written (key 1 is
 * the string "1"); a key that is a sequence or mapping is refused, and so
 * is a key written twice in one mapping (YAML requires unique keys; jsonb
 * would silently keep the last one).  The YAML 1.1 merge key << is not
 * part of the core schema: it is an ordinary key.
 *
 * Anchors and aliases: an alias shares the node its anchor named, so the
 * tree is a DAG.  An anchor is defined once its node is complete, so a
 * node cannot contain an alias of itself (a cycle is "undefined alias").
 * What the DAG expands to can still be exponential ("billion laughs": nine
 * levels of ten aliases are a billion nodes from a few hundred bytes), so
 * before writing anything the expanded node count is computed (memoized
 * per node, saturating) and refused above max(100000, 10 x the nodes
 * parsed): a document without aliases always passes.
 *
 * One document only: a second one ("---" after the first) is refused,
 * as is anything libyaml cannot parse, with SQLSTATE 22P02
 * (invalid_text_representation), the line and column (1-based) and
 * libyaml's own description of the problem.  An empty stream gives SQL
 * NULL.
 *
 * Text goes to libyaml in UTF-8 (converted from the database encoding if
 * need be) and comes back converted; a NUL character ("\0" in a double-
 * quoted scalar) cannot be stored in text and is refused.
 *
 * libyaml allocates with malloc: the parser and the current event are
 * released in PG_FINALLY whatever happens (STYLE.md 11).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <yaml.h>

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

/*
 * The expansion bound, in nodes plus bytes of scalars (a large scalar
 * repeated by aliases is as costly as many nodes):
 * max(YAML_MIN_EXPANSION, YAML_EXPANSION_FACTOR x (nodes parsed + bytes of
 * the document)); a document without aliases is always under it.
 */
#define YAML_MIN_EXPANSION		100000
#define YAML_EXPANSION_FACTOR	10
/*
 * Deeper nesting is refused: libyaml's scanner costs time quadratic in the
 * depth of flow collections (200000 '[' take minutes), and no contract
 * comes near it.
 */
#define YAML_MAX_DEPTH			1000
/* anchors are looked up by name in a hash table with fixed-size keys */
#define YAML_ANCHOR_MAX			128

#define YAML_TAG_PREFIX			"tag:yaml.org,2002:"

typedef enum YamlNodeKind
{
	YN_SCALAR,
	YN_SEQUENCE,
	YN_MAPPING
} YamlNodeKind;

typedef struct YamlNode
{
	YamlNodeKind kind;
	JsonbValue	scalar;			/* YN_SCALAR: its typed value */
	char	   *text;			/* YN_SCALAR: as written (for keys) */
	int			textlen;
	struct YamlNode **items;	/* children; a mapping's alternate key, value */
	int			nitems;
	int			maxitems;
	double		expanded;		/* nodes + scalar bytes once aliases are
								 * expanded; 0 = unknown */
	yaml_mark_t mark;			/* where it starts, for errors */
} YamlNode;

/* an open sequence or mapping, with the anchor to define when it closes */
typedef struct YamlFrame
{
	YamlNode   *node;
	char	   *anchor;
} YamlFrame;

typedef struct YamlAnchor
{
	char		name[YAML_ANCHOR_MAX];
	YamlNode   *node;
} YamlAnchor;

typedef struct YamlBuilder
{
	YamlFrame  *stack;
	int			depth;
	int			maxdepth;
	HTAB	   *anchors;
	YamlNode   *root;
	int64		parsed;			/* nodes made (aliases not counted) */
	int			documents;
} YamlBuilder;

static void yaml_parser_fail(yaml_parser_t *parser);
static void yaml_handle_event(YamlBuilder *b, yaml_event_t *ev);
static YamlNode *yaml_scalar_node(yaml_event_t *ev);
static bool yaml_core_scalar(const char *s, int len, const char *want,
							 JsonbValue *out);
static void yaml_add_node(YamlBuilder *b, YamlNode *node, const char *anchor,
						  yaml_mark_t mark);
static void yaml_define_anchor(YamlBuilder *b, const char *anchor,
							   YamlNode *node, yaml_mark_t mark);
static void yaml_check_keys(YamlNode *map);
static double yaml_expanded_size(YamlNode *node, double limit);
static JsonbValue *yaml_push(JsonbParseState **state, YamlNode *node,
							 JsonbIteratorToken container_token);
static char *yaml_text(const unsigned char *s, size_t len);

/*
 * A user error at a position of the document (libyaml's marks are 0-based).
 */
#define yaml_error_at(mark, ...) \
	ereport(ERROR, \
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION), \
			 errmsg("invalid YAML at line %d, column %d: %s", \
					(int) (mark).line + 1, (int) (mark).column + 1, \
					psprintf(__VA_ARGS__))))

PG_FUNCTION_INFO_V1(pipeline_parse_yaml);
Datum
pipeline_parse_yaml(PG_FUNCTION_ARGS)
{
	text	   *input = PG_GETARG_TEXT_PP(0);
	char	   *utf8;
	YamlBuilder b = {0};
	yaml_parser_t parser;
	yaml_event_t ev;
	bool		have_event = false;
	HASHCTL		ctl = {0};
	JsonbParseState *state = NULL;
	JsonbValue *result;
	double		limit;

	/* NUL-terminated: pg_server_to_any returns its input when not converting */
	utf8 = text_to_cstring(input);
	utf8 = pg_server_to_any(utf8, strlen(utf8), PG_UTF8);

	ctl.keysize = YAML_ANCHOR_MAX;
	ctl.entrysize = sizeof(YamlAnchor);
	ctl.hcxt = CurrentMemoryContext;
	b.anchors = hash_create("pg_pipeline YAML anchors", 16, &ctl,
							HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	if (!yaml_parser_initialize(&parser))
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("libyaml could not initialize its parser.")));

	PG_TRY();
	{
		yaml_parser_set_input_string(&parser, (const unsigned char *) utf8,
									 strlen(utf8));
		yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
		for (;;)
		{
			if (!yaml_parser_parse(&parser, &ev))
				yaml_parser_fail(&parser);
			have_event = true;
			if (ev.type == YAML_STREAM_END_EVENT)
				break;
			yaml_handle_event(&b, &ev);
			yaml_event_delete(&ev);
			have_event = false;
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_FINALLY();
	{
		if (have_event)
			yaml_event_delete(&ev);
		yaml_parser_delete(&parser);
	}
	PG_END_TRY();

	if (b.root == NULL)
		PG_RETURN_NULL();

	limit = Max(YAML_MIN_EXPANSION, (double) YAML_EXPANSION_FACTOR * (b.parsed + strlen(utf8)));
	if (yaml_expanded_size(b.root, limit) > limit)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("YAML aliases expand to too large a document"),
				 errdetail("The document has " INT64_FORMAT " nodes in %zu bytes; with its aliases expanded its nodes and scalar bytes would be more than %.0f.",
						   b.parsed, strlen(utf8), limit),
				 errhint("Repeat fewer aliases, or write the repeated parts out.")));

	result = yaml_push(&state, b.root, WJB_ELEM);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(result));
}

/*
 * Report libyaml's parse error: its problem, where, and what it was doing.
 */
static void
yaml_parser_fail(yaml_parser_t *parser)
{
	if (parser->error == YAML_MEMORY_ERROR)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("libyaml ran out of memory while parsing.")));
	if (parser->error == YAML_READER_ERROR)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid YAML at byte %zu: %s",
						parser->problem_offset,
						parser->problem ? parser->problem : "unreadable input")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid YAML at line %d, column %d: %s",
					(int) parser->problem_mark.line + 1,
					(int) parser->problem_mark.column + 1,
					parser->problem ? parser->problem : "parse error"),
			 parser->context ?
			 errdetail("The error was found %s started at line %d, column %d.",
					   parser->context,
					   (int) parser->context_mark.line + 1,
					   (int) parser->context_mark.column + 1) : 0));
}

/*
 * One parse event: open or close a container, add a scalar or an alias.
 */
static void
yaml_handle_event(YamlBuilder *b, yaml_event_t *ev)
{
	YamlNode   *node;
	YamlAnchor *entry;
	const char *tag = NULL;
	char	   *anchor = NULL;

	switch (ev->type)
	{
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			break;

		case YAML_DOCUMENT_START_EVENT:
			if (++b->documents > 1)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						 errmsg("invalid YAML at line %d, column %d: a second document",
								(int) ev->start_mark.line + 1,
								(int) ev->start_mark.column + 1),
						 errdetail("Only one YAML document is read; this one starts a second."),
						 errhint("Give one document per call.")));
			break;

		case YAML_ALIAS_EVENT:
			entry = NULL;
			if (strlen((char *) ev->data.alias.anchor) < YAML_ANCHOR_MAX)
				entry = hash_search(b->anchors, ev->data.alias.anchor,
									HASH_FIND, NULL);
			if (entry == NULL)
				yaml_error_at(ev->start_mark, "undefined alias \"*%s\"",
							  ev->data.alias.anchor);
			yaml_add_node(b, entry->node, NULL, ev->start_mark);
			break;

		case YAML_SCALAR_EVENT:
			node = yaml_scalar_node(ev);
			b->parsed++;
			yaml_add_node(b, node, (char *) ev->data.scalar.anchor, ev->start_mark);
			break;

		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (ev->type == YAML_SEQUENCE_START_EVENT)
			{
				tag = (char *) ev->data.sequence_start.tag;
				if (ev->data.sequence_start.anchor)
					anchor = pstrdup((char *) ev->data.sequence_start.anchor);
				if (tag && strcmp(tag, YAML_TAG_PREFIX "seq") != 0)
					yaml_error_at(ev->start_mark, "unsupported tag \"%s\" on a sequence", tag);
			}
			else
			{
				tag = (char *) ev->data.mapping_start.tag;
				if (ev->data.mapping_start.anchor)
					anchor = pstrdup((char *) ev->data.mapping_start.anchor);
				if (tag && strcmp(tag, YAML_TAG_PREFIX "map") != 0)
					yaml_error_at(ev->start_mark, "unsupported tag \"%s\" on a mapping", tag);
			}
			node = palloc0(sizeof(YamlNode));
			node->kind = ev->type == YAML_SEQUENCE_START_EVENT ? YN_SEQUENCE : YN_MAPPING;
			node->mark = ev->start_mark;
			b->parsed++;
			if (b->depth >= YAML_MAX_DEPTH)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("YAML nesting is deeper than %d levels", YAML_MAX_DEPTH),
						 errdetail("The collection at line %d, column %d is nested %d deep.",
								   (int) ev->start_mark.line + 1,
								   (int) ev->start_mark.column + 1, b->depth + 1)));
			if (b->depth == b->maxdepth)
			{
				b->maxdepth = Max(16, b->maxdepth * 2);
				b->stack = b->stack ?
					repalloc(b->stack, sizeof(YamlFrame) * b->maxdepth) :
					palloc(sizeof(YamlFrame) * b->maxdepth);
			}
			b->stack[b->depth].node = node;
			b->stack[b->depth].anchor = anchor;
			b->depth++;
			break;

		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			Assert(b->depth > 0);
			b->depth--;
			node = b->stack[b->depth].node;
			if (node->kind == YN_MAPPING)
				yaml_check_keys(node);
			yaml_add_node(b, node, b->stack[b->depth].anchor, node->mark);
			break;

		default:
			elog(ERROR, "unexpected libyaml event %d", (int) ev->type);
	}
}

/*
 * A scalar event as a typed node (see the file header for the rules).
 */
static YamlNode *
yaml_scalar_node(yaml_event_t *ev)
{
	YamlNode   *node = palloc0(sizeof(YamlNode));
	const char *tag = (char *) ev->data.scalar.tag;
	char	   *utf8 = (char *) ev->data.scalar.value;
	size_t		len = ev->data.scalar.length;

	if (memchr(utf8, '\0', len) != NULL)
		yaml_error_at(ev->start_mark, "a string holds a NUL character, which text cannot store");

	node->kind = YN_SCALAR;
	node->mark = ev->start_mark;
	node->text = yaml_text(ev->data.scalar.value, len);
	node->textlen = strlen(node->text);

	if (tag == NULL || strcmp(tag, "!") == 0)
	{
		/* untagged: plain scalars are typed, quoted and block ones are strings */
		if (tag == NULL && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
			yaml_core_scalar(utf8, len, NULL, &node->scalar))
			return node;
	}
	else if (strncmp(tag, YAML_TAG_PREFIX, strlen(YAML_TAG_PREFIX)) == 0 &&
			 strcmp(tag + strlen(YAML_TAG_PREFIX), "str") != 0)
	{
		const char *want = tag + strlen(YAML_TAG_PREFIX);

		if (strcmp(want, "null") != 0 && strcmp(want, "bool") != 0 &&
			strcmp(want, "int") != 0 && strcmp(want, "float") != 0)
			yaml_error_at(ev->start_mark, "unsupported tag \"!!%s\" on a scalar", want);
		if (!yaml_core_scalar(utf8, len, want, &node->scalar))
			yaml_error_at(ev->start_mark, "\"%s\" is not a valid !!%s", node->text, want);
		return node;
	}
	else if (strncmp(tag, YAML_TAG_PREFIX, strlen(YAML_TAG_PREFIX)) != 0)
		yaml_error_at(ev->start_mark, "unsupported tag \"%s\"", tag);

	node->scalar.type = jbvString;
	node->scalar.val.string.val = node->text;
	node->scalar.val.string.len = node->textlen;
	return node;
}

/*
 * Type a plain scalar by the YAML 1.2 core schema.  want is NULL (any type)
 * or "null", "bool", "int", "float" (an explicit tag: only that type, an int
 * also being a valid float).  False when it is none of them (a string).
 */
static bool
yaml_core_scalar(const char *s, int len, const char *want, JsonbValue *out)
{
	const char *p = s;
	const char *end = s + len;
	bool		is_int = true;
	bool		digits = false;
	char	   *str;

#define WANT(t) (want == NULL || strcmp(want, (t)) == 0)

	str = pnstrdup(s, len);
	if (WANT("null") &&
		(len == 0 || strcmp(str, "~") == 0 || strcmp(str, "null") == 0 ||
		 strcmp(str, "Null") == 0 || strcmp(str, "NULL") == 0))
	{
		out->type = jbvNull;
		return true;
	}
	if (WANT("bool") &&
		(strcmp(str, "true") == 0 || strcmp(str, "True") == 0 ||
		 strcmp(str, "TRUE") == 0 || strcmp(str, "false") == 0 ||
		 strcmp(str, "False") == 0 || strcmp(str, "FALSE") == 0))
	{
		out->type = jbvBool;
		out->val.boolean = (str[0] == 't' || str[0] == 'T');
		return true;
	}
	if (!WANT("int") && !WANT("float"))
		return false;

	/* 0o17 and 0x1F: integers, read here (numeric_in takes neither) */
	if (WANT("int") && len > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x'))
	{
		int			base = s[1] == 'o' ? 8 : 16;
		uint64		v = 0;

		for (p = s + 2; p < end; p++)
		{
			int			d;

			if (*p >= '0' && *p <= '9')
				d = *p - '0';
			else if (base == 16 && *p >= 'a' && *p <= 'f')
				d = *p - 'a' + 10;
			else if (base == 16 && *p >= 'A' && *p <= 'F')
				d = *p - 'A' + 10;
			else
				return false;
			if (d >= base)
				return false;
			if (v > (PG_UINT64_MAX - d) / base)
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("YAML integer \"%s\" is out of range", str)));
			v = v * base + d;
		}
		if (v > (uint64) PG_INT64_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("YAML integer \"%s\" is out of range", str)));
		out->type = jbvNumeric;
		out->val.numeric = int64_to_numeric((int64) v);
		return true;
	}

	/* [-+]? ( \.[0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
	if (p < end && (*p == '-' || *p == '+'))
		p++;
	if (end - p == 4 && (strncmp(p, ".inf", 4) == 0 || strncmp(p, ".Inf", 4) == 0 ||
						 strncmp(p, ".INF", 4) == 0))
		goto not_finite;
	if (p == s && (strcmp(str, ".nan") == 0 || strcmp(str, ".NaN") == 0 ||
				   strcmp(str, ".NAN") == 0))
		goto not_finite;
	while (p < end && isdigit((unsigned char) *p))
		p++, digits = true;
	if (p < end && *p == '.')
	{
		is_int = false;
		p++;
		while (p < end && isdigit((unsigned char) *p))
			p++, digits = true;
	}
	if (!digits)
		return false;
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		is_int = false;
		p++;
		if (p < end && (*p == '-' || *p == '+'))
			p++;
		if (p == end || !isdigit((unsigned char) *p))
			return false;
		while (p < end && isdigit((unsigned char) *p))
			p++;
	}
	if (p != end)
		return false;
	if (!is_int && !WANT("float"))
		return false;

	out->type = jbvNumeric;
	out->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
														   CStringGetDatum(str),
														   ObjectIdGetDatum(InvalidOid),
														   Int32GetDatum(-1)));
	return true;

not_finite:
	if (!WANT("float"))
		return false;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("YAML float \"%s\" has no jsonb form", str),
			 errdetail("jsonb numbers are finite; .inf and .nan are not."),
			 errhint("Quote the value to keep it as a string.")));
	return false;				/* keep the compiler quiet */
#undef WANT
}

/*
 * Put a complete node where it belongs: the root, the next item of the
 * open sequence, or the next key or value of the open mapping.  Then define
 * its anchor, if it has one.
 */
static void
yaml_add_node(YamlBuilder *b, YamlNode *node, const char *anchor, yaml_mark_t mark)
{
	if (b->depth == 0)
		b->root = node;
	else
	{
		YamlNode   *parent = b->stack[b->depth - 1].node;

		if (parent->kind == YN_MAPPING && parent->nitems % 2 == 0 &&
			node->kind != YN_SCALAR)
			yaml_error_at(mark, "a mapping key must be a scalar");
		if (parent->nitems == parent->maxitems)
		{
			parent->maxitems = Max(8, parent->maxitems * 2);
			parent->items = parent->items ?
				repalloc(parent->items, sizeof(YamlNode *) * parent->maxitems) :
				palloc(sizeof(YamlNode *) * parent->maxitems);
		}
		parent->items[parent->nitems++] = node;
	}
	if (anchor)
		yaml_define_anchor(b, anchor, node, mark);
}

static void
yaml_define_anchor(YamlBuilder *b, const char *anchor, YamlNode *node, yaml_mark_t mark)
{
	YamlAnchor *entry;

	if (strlen(anchor) >= YAML_ANCHOR_MAX)
		yaml_error_at(mark, "anchor name \"&%.20s...\" is longer than %d bytes",
					  anchor, YAML_ANCHOR_MAX - 1);
	/* a later anchor of the same name replaces the earlier one, as in YAML */
	entry = hash_search(b->anchors, anchor, HASH_ENTER, NULL);
	entry->node = node;
}

static int
yaml_key_cmp(const void *a, const void *b)
{
	const YamlNode *ka = *(YamlNode *const *) a;
	const YamlNode *kb = *(YamlNode *const *) b;

	return strcmp(ka->text, kb->text);
}

/*
 * Refuse a mapping that has a key twice.
 */
static void
yaml_check_keys(YamlNode *map)
{
	int			nkeys = map->nitems / 2;
	YamlNode  **keys;

	if (nkeys < 2)
		return;
	keys = palloc(sizeof(YamlNode *) * nkeys);
	for (int i = 0; i < nkeys; i++)
		keys[i] = map->items[2 * i];
	qsort(keys, nkeys, sizeof(YamlNode *), yaml_key_cmp);
	for (int i = 1; i < nkeys; i++)
		if (strcmp(keys[i - 1]->text, keys[i]->text) == 0)
			yaml_error_at(keys[i]->mark, "duplicate key \"%s\" in a mapping",
						  keys[i]->text);
	pfree(keys);
}

/*
 * How many nodes, plus bytes of scalars, the tree has once every alias is
 * written out, memoized per node (a shared node is counted once per use,
 * computed once) and stopped at limit: the result is exact up to limit,
 * and above limit otherwise.
 */
static double
yaml_expanded_size(YamlNode *node, double limit)
{
	double		n = 1 + (node->kind == YN_SCALAR ? node->textlen : 0);

	if (node->expanded > 0)
		return node->expanded;
	check_stack_depth();
	for (int i = 0; i < node->nitems && n <= limit; i++)
		n += yaml_expanded_size(node->items[i], limit);
	node->expanded = n;
	return n;
}

/*
 * Write node into the jsonb being built.  container_token says what the
 * node is to its container: WJB_ELEM in a sequence (or at the top),
 * WJB_VALUE in a mapping.  Returns what pushJsonbValue returns (the
 * finished value when this closes the outermost container).
 */
static JsonbValue *
yaml_push(JsonbParseState **state, YamlNode *node, JsonbIteratorToken container_token)
{
	JsonbValue *res;
	JsonbValue	key;

	check_stack_depth();
	switch (node->kind)
	{
		case YN_SCALAR:
			if (*state == NULL)
				return &node->scalar;	/* a document that is one scalar */
			return pushJsonbValue(state, container_token, &node->scalar);
		case YN_SEQUENCE:
			pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
			for (int i = 0; i < node->nitems; i++)
				yaml_push(state, node->items[i], WJB_ELEM);
			res = pushJsonbValue(state, WJB_END_ARRAY, NULL);
			return res;
		case YN_MAPPING:
			pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
			for (int i = 0; i + 1 < node->nitems; i += 2)
			{
				key.type = jbvString;
				key.val.string.val = node->items[i]->text;
				key.val.string.len = node->items[i]->textlen;
				pushJsonbValue(state, WJB_KEY, &key);
				yaml_push(state, node->items[i + 1], WJB_VALUE);
			}
			res = pushJsonbValue(state, WJB_END_OBJECT, NULL);
			return res;
	}
	return NULL;				/* keep the compiler quiet */
}

/*
 * libyaml's UTF-8 bytes (not NUL-terminated) as a palloc'd string in the
 * database encoding.
 */
static char *
yaml_text(const unsigned char *s, size_t len)
{
	char	   *copy = pnstrdup((const char *) s, len);

	return pg_any_to_server(copy, len, PG_UTF8);
}
