/*-------------------------------------------------------------------------
 *
 * layout.c
 *	  Laying the lineage graph out with Graphviz (libgvc): dot layout,
 *	  SVG rendering, for pipeline.lineage_html().
 *
 * The graph is built through cgraph's API (agopen, agnode, agedge,
 * agsafeset), never by parsing DOT text: a name cannot become an
 * attribute (Graphviz attributes such as image or shapefile read files
 * of the server), only a label's value, escaped as an escString
 * (write.c).  Graphviz writes the labels into the SVG XML-escaped.
 *
 * Graphviz allocates with malloc: everything it made is freed in
 * PG_FINALLY, whether the layout worked or an error interrupted us.  Its
 * error messages go to a buffer (agseterrf), not to the server's stderr,
 * and become the errdetail of our error.  The layout cannot be cancelled
 * once started: the number of nodes is bounded first
 * (PP_LINEAGE_MAX_LAYOUT_NODES).  Graphviz expects UTF-8: names are
 * converted from the server encoding and the SVG back to it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <gvc.h>

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"

#include "lineage/lineage.h"

/* Graphviz's last error message (static: agseterrf takes no argument) */
static char gv_error[512];

static int
gv_error_handler(char *message)
{
	strlcpy(gv_error, message, sizeof(gv_error));
	return 0;
}

static char *
to_utf8(const char *s)
{
	return pg_server_to_any(s, strlen(s), PG_UTF8);
}

/* set attribute name of object to value, declaring it with default "" */
static void
set(void *object, const char *name, const char *value)
{
	agsafeset(object, (char *) name, (char *) value, "");
}

/*
 * pp_lineage_svg
 *		The graph laid out by dot, as an SVG document (palloc'd, server
 *		encoding).
 */
char *
pp_lineage_svg(const LineageGraph *graph)
{
	GVC_t	   *volatile gvc = NULL;
	Agraph_t   *volatile g = NULL;
	char	   *volatile rendered = NULL;
	volatile bool laid_out = false;
	unsigned int length = 0;
	char	   *volatile svg = NULL;

	if (graph->nnodes > PP_LINEAGE_MAX_LAYOUT_NODES ||
		graph->nedges > PP_LINEAGE_MAX_LAYOUT_EDGES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the lineage graph is too large to lay out"),
				 errdetail("It has %d nodes and %d edges; an HTML page lays out at most %d nodes and %d edges.",
						   graph->nnodes, graph->nedges,
						   PP_LINEAGE_MAX_LAYOUT_NODES, PP_LINEAGE_MAX_LAYOUT_EDGES),
				 errhint("Pass a relation to draw what is up- and downstream of it, "
						 "or use pipeline.lineage_dot().")));

	gv_error[0] = '\0';
	agseterr(AGERR);
	agseterrf(gv_error_handler);
	PG_TRY();
	{
		Agnode_t  **nodes = palloc(sizeof(Agnode_t *) * Max(graph->nnodes, 1));
		StringInfoData label;

		initStringInfo(&label);
		gvc = gvContext();
		g = agopen("lineage", Agdirected, NULL);
		if (gvc == NULL || g == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not start Graphviz"),
					 errdetail("%s", gv_error)));
		set(g, "rankdir", "LR");
		set(g, "fontname", "Helvetica");
		for (int i = 0; i < graph->nnodes; i++)
		{
			const LineageNode *node = &graph->nodes[i];
			char		id[16];

			snprintf(id, sizeof(id), "n%d", i + 1);
			nodes[i] = agnode(g, id, 1);
			resetStringInfo(&label);
			pp_lineage_label_escstring(&label, node);
			set(nodes[i], "label", to_utf8(label.data));
			set(nodes[i], "shape", pp_lineage_shape(node->kind));
			set(nodes[i], "style", "filled");
			set(nodes[i], "fillcolor", pp_lineage_state_colour(node->state));
			set(nodes[i], "fontname", "Helvetica");
			set(nodes[i], "fontsize", "10");
			/* the SVG's class: "node <kind>" lets a stylesheet pick kinds */
			set(nodes[i], "class", strcmp(node->kind, "materialized view") == 0 ?
				"matview" : node->kind);
		}
		for (int i = 0; i < graph->nedges; i++)
		{
			const LineageEdge *edge = &graph->edges[i];
			Agedge_t   *e = agedge(g, nodes[edge->from], nodes[edge->to], NULL, 1);

			set(e, "fontname", "Helvetica");
			set(e, "fontsize", "9");
			if (edge->label)
			{
				/* an edge label holds a task's name: escaped the same way */
				resetStringInfo(&label);
				pp_lineage_escstring(&label, edge->label);
				set(e, "label", to_utf8(label.data));
			}
		}

		if (gvLayout(gvc, g, "dot") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("Graphviz could not lay out the lineage graph"),
					 errdetail("%s", gv_error)));
		laid_out = true;
		{
			char	   *out = NULL;

			if (gvRenderData(gvc, g, "svg", &out, &length) != 0 || out == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg("Graphviz could not render the lineage graph as SVG"),
						 errdetail("%s", gv_error)));
			rendered = out;
		}
		svg = pg_any_to_server(rendered, (int) length, PG_UTF8);
		if (svg == rendered)
			svg = pnstrdup(rendered, length);
	}
	PG_FINALLY();
	{
		if (rendered)
			gvFreeRenderData(rendered);
		if (laid_out)
			gvFreeLayout(gvc, g);
		if (g)
			agclose(g);
		if (gvc)
			gvFreeContext(gvc);
		agseterrf(NULL);
	}
	PG_END_TRY();
	return svg;
}
