/*-------------------------------------------------------------------------
 *
 * write.c
 *	  The lineage graph as DOT, as Mermaid and as an HTML page:
 *	  pipeline.lineage_dot(), lineage_mermaid(), lineage_html().
 *
 * Escaping is what this file is for: every name comes from a user (a
 * table called <img src=x onerror=alert(1)>, a source called "];evil[),
 * and each language has its own rules.  No name is ever an identifier:
 * nodes are n1, n2, ... in every language, and names appear only inside
 * labels, escaped for that language:
 *
 *	DOT: a quoted string; \ and " are escaped with a backslash, so the
 *	  DOT scanner keeps the string whole, and a label's escString
 *	  sequences (\N, \G, \l ...) cannot appear: a user's \ becomes \\.
 *	  Graphviz decodes HTML entities in every label, so & becomes &amp;.
 *	  Control characters become spaces.  No HTML-like label is used.
 *	Mermaid: a quoted label ["..."]; Mermaid has no backslash escape but
 *	  entity codes #name; and #number;, so " # & < > ` and control
 *	  characters are written as #quot; #35; #amp; #lt; #gt; #96; or a
 *	  space.  Mermaid's HTML labels then show them as text.
 *	HTML: &, <, >, " and ' as entities wherever text is written; the SVG
 *	  comes from Graphviz, which escapes its labels the same way (XML),
 *	  and its node ids are ours.  The page carries a Content-Security-
 *	  Policy that forbids every script and fetch, in case anything slips.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "lineage/lineage.h"

/* fill colours of the states of pipeline.status (docs/lineage.md) */
static const struct
{
	const char *state;
	const char *colour;
}			state_colours[] =
{
	{"ok", "#c8e6c9"},
	{"lagging", "#fff59d"},
	{"stale", "#ffcc80"},
	{"failing", "#ef9a9a"},
	{"paused", "#cfd8dc"},
};
#define NO_STATE_COLOUR "#ffffff"		/* no row in pipeline.status */
#define OTHER_STATE_COLOUR "#e1bee7"	/* a state not listed above */

const char *
pp_lineage_state_colour(const char *state)
{
	if (state == NULL)
		return NO_STATE_COLOUR;
	for (int i = 0; i < (int) lengthof(state_colours); i++)
		if (strcmp(state, state_colours[i].state) == 0)
			return state_colours[i].colour;
	return OTHER_STATE_COLOUR;
}

/* Graphviz shapes by kind */
const char *
pp_lineage_shape(const char *kind)
{
	if (strcmp(kind, "topic") == 0)
		return "parallelogram";
	if (strcmp(kind, "source") == 0 || strcmp(kind, "sink") == 0)
		return "cds";
	if (strcmp(kind, "table") == 0 || strcmp(kind, "view") == 0 ||
		strcmp(kind, "materialized view") == 0)
		return "cylinder";
	if (strcmp(kind, "window") == 0)
		return "box3d";
	if (strcmp(kind, "expectation") == 0)
		return "hexagon";
	if (strcmp(kind, "dag") == 0 || strcmp(kind, "job") == 0)
		return "component";
	return "box";				/* model */
}

/*
 * Append s to out with each character of "special" replaced by the string
 * of the same position in "replacements", and control characters by a
 * space.
 */
static void
append_replacing(StringInfo out, const char *s, const char *special,
				 const char *const *replacements)
{
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;
		const char *found = strchr(special, c);

		if (found)
			appendStringInfoString(out, replacements[found - special]);
		else if (c < 0x20 || c == 0x7f)
			appendStringInfoChar(out, ' ');
		else
			appendStringInfoChar(out, (char) c);
	}
}

/*
 * Append s to out for a Graphviz escString (a label's value): \ doubled,
 * & as &amp; (Graphviz reads HTML entities in any label: a name holding
 * "&lt;" must not show as "<"), control characters as spaces.  DOT source
 * quotes it on top (append_dot_string).
 */
void
pp_lineage_escstring(StringInfo out, const char *s)
{
	static const char *const escapes[] = {"\\\\", "&amp;"};

	append_replacing(out, s, "\\&", escapes);
}

/*
 * pp_lineage_label_escstring
 *		A node's label as a Graphviz escString: its name, a line break, its
 *		detail (and state).  Not quoted: layout.c hands it to cgraph as a
 *		value, write_dot quotes it for DOT source.
 */
void
pp_lineage_label_escstring(StringInfo out, const LineageNode *node)
{
	pp_lineage_escstring(out, node->name);
	appendStringInfoString(out, "\\n");
	pp_lineage_escstring(out, node->detail);
	if (node->state)
	{
		appendStringInfoString(out, ": ");
		pp_lineage_escstring(out, node->state);
	}
}

/* a label value, in double quotes, for DOT source */
static void
append_dot_string(StringInfo out, const char *escstring)
{
	appendStringInfoChar(out, '"');
	for (const char *s = escstring; *s; s++)
	{
		/* the escString's own backslashes stay; only quotes get one */
		if (*s == '"')
			appendStringInfoChar(out, '\\');
		appendStringInfoChar(out, *s);
	}
	appendStringInfoChar(out, '"');
}

static char *
write_dot(const LineageGraph *graph)
{
	StringInfoData out;
	StringInfoData label;

	initStringInfo(&out);
	initStringInfo(&label);
	appendStringInfoString(&out,
						   "digraph lineage {\n"
						   "  graph [rankdir=LR, fontname=\"Helvetica\"];\n"
						   "  node [fontname=\"Helvetica\", fontsize=10, style=filled];\n"
						   "  edge [fontname=\"Helvetica\", fontsize=9];\n");
	for (int i = 0; i < graph->nnodes; i++)
	{
		const LineageNode *node = &graph->nodes[i];

		resetStringInfo(&label);
		pp_lineage_label_escstring(&label, node);
		appendStringInfo(&out, "  n%d [label=", i + 1);
		append_dot_string(&out, label.data);
		appendStringInfo(&out, ", shape=%s, fillcolor=\"%s\"];\n",
						 pp_lineage_shape(node->kind), pp_lineage_state_colour(node->state));
	}
	for (int i = 0; i < graph->nedges; i++)
	{
		const LineageEdge *edge = &graph->edges[i];

		appendStringInfo(&out, "  n%d -> n%d", edge->from + 1, edge->to + 1);
		if (edge->label)
		{
			resetStringInfo(&label);
			pp_lineage_escstring(&label, edge->label);
			appendStringInfoString(&out, " [label=");
			append_dot_string(&out, label.data);
			appendStringInfoChar(&out, ']');
		}
		appendStringInfoString(&out, ";\n");
	}
	appendStringInfoString(&out, "}\n");
	return out.data;
}

/* s inside a Mermaid quoted label: Mermaid's entity codes */
static void
append_mermaid(StringInfo out, const char *s)
{
	static const char *const codes[] = {"#quot;", "#35;", "#amp;", "#lt;", "#gt;", "#96;"};

	append_replacing(out, s, "\"#&<>`", codes);
}

/* Mermaid's node shape brackets by kind: opening, closing */
static void
mermaid_brackets(const char *kind, const char **open, const char **close)
{
	const char *shape = pp_lineage_shape(kind);

	*open = "[";
	*close = "]";
	if (strcmp(shape, "parallelogram") == 0)
		*open = "[/", *close = "/]";
	else if (strcmp(shape, "cds") == 0)
		*open = ">", *close = "]";
	else if (strcmp(shape, "cylinder") == 0)
		*open = "[(", *close = ")]";
	else if (strcmp(shape, "box3d") == 0)
		*open = "[[", *close = "]]";
	else if (strcmp(shape, "hexagon") == 0)
		*open = "{{", *close = "}}";
	else if (strcmp(shape, "component") == 0)
		*open = "([", *close = "])";
}

static char *
write_mermaid(const LineageGraph *graph)
{
	StringInfoData out;

	initStringInfo(&out);
	appendStringInfoString(&out, "flowchart LR\n");
	for (int i = 0; i < (int) lengthof(state_colours); i++)
		appendStringInfo(&out, "  classDef %s fill:%s\n",
						 state_colours[i].state, state_colours[i].colour);
	appendStringInfo(&out, "  classDef other_state fill:%s\n", OTHER_STATE_COLOUR);
	for (int i = 0; i < graph->nnodes; i++)
	{
		const LineageNode *node = &graph->nodes[i];
		const char *open;
		const char *close;

		mermaid_brackets(node->kind, &open, &close);
		appendStringInfo(&out, "  n%d%s\"", i + 1, open);
		append_mermaid(&out, node->name);
		appendStringInfoString(&out, "<br/>");
		append_mermaid(&out, node->detail);
		if (node->state)
		{
			appendStringInfoString(&out, ": ");
			append_mermaid(&out, node->state);
		}
		appendStringInfo(&out, "\"%s\n", close);
	}
	for (int i = 0; i < graph->nedges; i++)
	{
		const LineageEdge *edge = &graph->edges[i];

		appendStringInfo(&out, "  n%d -->", edge->from + 1);
		if (edge->label)
		{
			appendStringInfoString(&out, "|\"");
			append_mermaid(&out, edge->label);
			appendStringInfoString(&out, "\"|");
		}
		appendStringInfo(&out, " n%d\n", edge->to + 1);
	}
	/* states: the class of each node that has one (class names are ours) */
	for (int i = 0; i < graph->nnodes; i++)
	{
		const char *state = graph->nodes[i].state;
		const char *class = "other_state";

		if (state == NULL)
			continue;
		for (int j = 0; j < (int) lengthof(state_colours); j++)
			if (strcmp(state, state_colours[j].state) == 0)
				class = state_colours[j].state;
		appendStringInfo(&out, "  class n%d %s\n", i + 1, class);
	}
	return out.data;
}

/* s as HTML text or attribute value */
static void
append_html(StringInfo out, const char *s)
{
	static const char *const entities[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};

	append_replacing(out, s, "&<>\"'", entities);
}

/*
 * The page: a header, the legend, the SVG, and the nodes as a table (for
 * reading, searching and screen readers).  No script and no external
 * resource: the Content-Security-Policy says so to the browser too.
 */
static char *
write_html(const LineageGraph *graph, Oid relation)
{
	StringInfoData out;
	char	   *svg = pp_lineage_svg(graph);
	const char *start = strstr(svg, "<svg");

	initStringInfo(&out);
	appendStringInfoString(&out,
						   "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
						   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
						   "style-src 'unsafe-inline'\">\n"
						   "<title>pg_pipeline lineage</title>\n<style>\n"
						   "body{font-family:Helvetica,Arial,sans-serif;margin:1.5em;color:#222}\n"
						   "h1{font-size:1.3em}\n"
						   ".graph svg{max-width:100%;height:auto}\n"
						   ".legend span{display:inline-block;border:1px solid #999;padding:.1em .5em;margin-right:.4em}\n"
						   "table{border-collapse:collapse;margin-top:1.5em}\n"
						   "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}\n"
						   "</style>\n</head>\n<body>\n<h1>pg_pipeline lineage: ");
	{
		char	   *database = get_database_name(MyDatabaseId);

		append_html(&out, database ? database : "");
	}
	if (OidIsValid(relation))
	{
		appendStringInfoString(&out, ", up- and downstream of ");
		append_html(&out, DatumGetCString(DirectFunctionCall1(regclassout,
															  ObjectIdGetDatum(relation))));
	}
	appendStringInfoString(&out, "</h1>\n<p>");
	append_html(&out, timestamptz_to_str(GetCurrentTimestamp()));
	appendStringInfo(&out, ", %d nodes, %d edges, as seen by ", graph->nnodes, graph->nedges);
	append_html(&out, GetUserNameFromId(GetUserId(), false));
	appendStringInfoString(&out, "</p>\n<p class=\"legend\">");
	for (int i = 0; i < (int) lengthof(state_colours); i++)
		appendStringInfo(&out, "<span style=\"background:%s\">%s</span>",
						 state_colours[i].colour, state_colours[i].state);
	appendStringInfo(&out, "<span style=\"background:%s\">other state</span>"
					 "<span style=\"background:%s\">no state</span></p>\n",
					 OTHER_STATE_COLOUR, NO_STATE_COLOUR);
	appendStringInfoString(&out, "<div class=\"graph\">\n");
	appendStringInfoString(&out, start ? start : "");
	appendStringInfoString(&out, "</div>\n<table>\n<tr><th>node</th><th>kind</th><th>name</th>"
						   "<th>state</th><th>upstream</th></tr>\n");
	for (int i = 0; i < graph->nnodes; i++)
	{
		const LineageNode *node = &graph->nodes[i];
		bool		first = true;

		appendStringInfo(&out, "<tr><td>n%d</td><td>", i + 1);
		append_html(&out, node->detail);
		appendStringInfoString(&out, "</td><td class=\"name\">");
		append_html(&out, node->name);
		appendStringInfoString(&out, "</td><td>");
		append_html(&out, node->state ? node->state : "");
		appendStringInfoString(&out, "</td><td>");
		for (int j = 0; j < graph->nedges; j++)
			if (graph->edges[j].to == i)
			{
				appendStringInfo(&out, "%sn%d", first ? "" : ", ", graph->edges[j].from + 1);
				first = false;
			}
		appendStringInfoString(&out, "</td></tr>\n");
	}
	appendStringInfoString(&out, "</table>\n</body>\n</html>\n");
	return out.data;
}

static Oid
relation_arg(FunctionCallInfo fcinfo)
{
	return PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0);
}

PG_FUNCTION_INFO_V1(pipeline_lineage_dot);
Datum
pipeline_lineage_dot(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(write_dot(pp_lineage_read(relation_arg(fcinfo)))));
}

PG_FUNCTION_INFO_V1(pipeline_lineage_mermaid);
Datum
pipeline_lineage_mermaid(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(write_mermaid(pp_lineage_read(relation_arg(fcinfo)))));
}

PG_FUNCTION_INFO_V1(pipeline_lineage_html);
Datum
pipeline_lineage_html(PG_FUNCTION_ARGS)
{
	Oid			relation = relation_arg(fcinfo);

	PG_RETURN_TEXT_P(cstring_to_text(write_html(pp_lineage_read(relation), relation)));
}
