/*-------------------------------------------------------------------------
 *
 * lineage.h
 *	  The lineage graph as the writers of src/lineage/ share it.
 *
 * graph.c reads the graph from pipeline._lineage_graph (SQL, as the
 * caller); write.c turns it into DOT, Mermaid and the HTML page; layout.c
 * lays it out with Graphviz (libgvc) and renders the SVG of the page.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_LINEAGE_H
#define PP_LINEAGE_H

#include "lib/stringinfo.h"

/*
 * At most this many nodes and edges are laid out for lineage_html:
 * Graphviz's dot layout cannot be cancelled, and grows faster than
 * linearly (a pipeline-shaped graph, one core of the test machine: 500
 * nodes 0.9 s, 1,000 nodes 2.4 s, 2,000 nodes 7.8 s).  DOT and Mermaid
 * text has no such bound: their cost is linear.
 */
#define PP_LINEAGE_MAX_LAYOUT_NODES 1000
#define PP_LINEAGE_MAX_LAYOUT_EDGES 3000

/* one node: its number is its index + 1 (the n<number> of DOT and Mermaid) */
typedef struct LineageNode
{
	char	   *kind;			/* topic, source, table, view, window, model, ... */
	char	   *name;			/* the name the user gives it */
	char	   *detail;			/* second line of the label ("model, table") */
	char	   *state;			/* from pipeline.status, or NULL */
} LineageNode;

typedef struct LineageEdge
{
	int			from;			/* node indexes */
	int			to;
	char	   *label;			/* or NULL */
} LineageEdge;

typedef struct LineageGraph
{
	int			nnodes;
	LineageNode *nodes;
	int			nedges;
	LineageEdge *edges;
} LineageGraph;

/* graph.c */
extern LineageGraph *pp_lineage_read(Oid relation);

/* write.c */
extern const char *pp_lineage_state_colour(const char *state);
extern const char *pp_lineage_shape(const char *kind);
extern void pp_lineage_escstring(StringInfo out, const char *s);
extern void pp_lineage_label_escstring(StringInfo out, const LineageNode *node);

/* layout.c */
extern char *pp_lineage_svg(const LineageGraph *graph);

#endif							/* PP_LINEAGE_H */
