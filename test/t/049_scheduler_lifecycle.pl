# Lifecycle of scheduler objects (issue 11), with the workers running:
#  - a failed task keeps its error whole (SQLSTATE, message, detail, hint,
#    context) in task_runs and pipeline.jobs, and the original error is in
#    the server log; so does a window aggregate whose maintenance fails
#    (window_status), its error cleared whole once maintenance succeeds;
#  - a catch-up DAG created in one transaction and given its tasks in
#    another makes no run before its tasks exist, then a run per missed
#    interval, each of which runs its tasks;
#  - a data-aware DAG whose table is dropped and created again (the
#    recovery docs/kafka.md recommends) says so in dag_status, then
#    watches the new table and runs for its writes;
#  - the library works with a database whose extension is still at 0.5.0,
#    and with it once updated.
#
# pg_pipeline.naptime is 1 s here: nothing wakes the scheduler when a table
# is created, so the drop is seen at its next pass (within the naptime).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = pipeline_node('scheduler_lifecycle', conf => "pg_pipeline.naptime = 1s\n");
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

sql(q{
CREATE EXTENSION pg_pipeline;
CREATE FUNCTION public.load_orders() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'orders of % are missing', 'tuesday'
        USING ERRCODE = 'no_data_found',
              DETAIL = 'The extract found 0 rows.',
              HINT = 'Run the extract first.';
END
$$;
});

# ---------------------------------------------------------------------
# A failed task keeps its error whole, and the log has the original
# ---------------------------------------------------------------------
my $log_offset = -s $node->logfile;
sql(q{SELECT pipeline.schedule('load', '0 0 1 1 *', 'SELECT public.load_orders()')});
sql(q{SELECT pipeline.run_now('load')});
wait_for_sql($node, 30, q{SELECT status FROM pipeline.task_runs WHERE dag = 'load'},
	'failed', 'the failing job ran');
is(sql(q{SELECT concat_ws(' | ', error, sqlstate, error_detail, error_hint)
           FROM pipeline.task_runs WHERE dag = 'load'}),
	'orders of tuesday are missing | P0002 | The extract found 0 rows. | Run the extract first.',
	'task_runs keeps the message, SQLSTATE, detail and hint');
like(sql(q{SELECT error_context FROM pipeline.task_runs WHERE dag = 'load'}),
	qr/^PL\/pgSQL function load_orders\(\) line \d+ at RAISE/,
	'and the context: where it was raised');
is(sql(q{SELECT concat_ws(' | ', last_status, last_error, last_sqlstate, last_error_detail, last_error_hint,
                          last_error_context IS NOT NULL)
           FROM pipeline.jobs WHERE name = 'load'}),
	'failed | orders of tuesday are missing | P0002 | The extract found 0 rows. | Run the extract first. | t',
	'pipeline.jobs shows them');
ok($node->log_contains(qr/ERROR:  orders of tuesday are missing/, $log_offset),
	'the server log has the original error');
ok($node->log_contains(qr/DETAIL:  The extract found 0 rows\./, $log_offset)
	  && $node->log_contains(qr/HINT:  Run the extract first\./, $log_offset)
	  && $node->log_contains(qr/CONTEXT:  PL\/pgSQL function load_orders\(\) line \d+ at RAISE/, $log_offset),
	'with its detail, hint and context');
ok($node->log_contains(qr/pg_pipeline task run \d+ failed: orders of tuesday are missing/, $log_offset),
	'and the line naming the task run');
sql(q{SELECT pipeline.unschedule('load')});

# ---------------------------------------------------------------------
# A window aggregate whose maintenance fails
# ---------------------------------------------------------------------
sql(q{
CREATE TABLE clicks (ts timestamptz NOT NULL, page text);
SELECT pipeline.create_window('clicks_per_minute', 'clicks', 'ts', pipeline.tumble('1 min'),
                              'count(*) AS n', group_by => '{page}', mode => 'async');
CREATE FUNCTION public.refuse() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'maintenance refused' USING ERRCODE = 'check_violation',
        DETAIL = 'A trigger of the test refuses every row.', HINT = 'Drop the trigger.';
END
$$;
});
my $state = sql(q{SELECT state_table FROM pipeline.windows WHERE name LIKE '%clicks_per_minute'});
sql(qq{CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON $state FOR EACH ROW EXECUTE FUNCTION public.refuse()});
$log_offset = -s $node->logfile;
sql(q{INSERT INTO clicks VALUES ('2026-01-01 00:00:10+00', 'home')});
wait_for_sql($node, 30, q{SELECT last_error IS NOT NULL FROM pipeline.window_status},
	't', 'the maintainer failed on the window');
is(sql(q{SELECT concat_ws(' | ', last_error, last_error_sqlstate, last_error_detail, last_error_hint)
           FROM pipeline.window_status}),
	'maintenance refused | 23514 | A trigger of the test refuses every row. | Drop the trigger.',
	'window_status keeps the message, SQLSTATE, detail and hint');
like(sql(q{SELECT last_error_context FROM pipeline.window_status}),
	qr/PL\/pgSQL function (public\.)?refuse\(\) line \d+ at RAISE/, 'and the context');
ok($node->log_contains(qr/ERROR:  maintenance refused/, $log_offset)
	  && $node->log_contains(qr/DETAIL:  A trigger of the test refuses every row\./, $log_offset),
	'the server log has the original error');
sql(qq{DROP TRIGGER refuse ON $state});
sql(q{INSERT INTO clicks VALUES ('2026-01-01 00:00:20+00', 'home')});
wait_for_sql($node, 30,
	q{SELECT count(*) FROM pipeline.window_status
	   WHERE num_nulls(last_error, last_error_sqlstate, last_error_detail, last_error_hint, last_error_context) = 5},
	'1', 'once maintenance succeeds, the error is cleared whole');
is(sql(q{SELECT n FROM clicks_per_minute WHERE page = 'home'}), '2', 'and the window caught up');

# ---------------------------------------------------------------------
# A catch-up DAG given its tasks in another transaction
# ---------------------------------------------------------------------
sql(q{
SELECT pipeline.create_dag('catch_up', '1 hour', catchup => true, max_active_runs => 3,
                           start_date => date_trunc('hour', now()) - interval '3 hours')
});
# the commit woke the coordinator: its passes make no run for a DAG without tasks
ok(!defined wait_until(2, sub { sql(q{SELECT count(*) FROM pipeline.dag_runs WHERE dag = 'catch_up'}) ne '0' }),
	'no run for a DAG without tasks');
is(sql(q{SELECT next_fire_at = start_date + interval '1 hour' FROM pipeline.dags WHERE name = 'catch_up'}),
	't', 'its first fire waits for them');
sql(q{SELECT pipeline.add_task('catch_up', 'first', 'SELECT 1')});
sql(q{SELECT pipeline.add_task('catch_up', 'second', 'SELECT 2', upstream => '{first}')});
wait_for_sql($node, 30,
	q{SELECT count(*) FILTER (WHERE status = 'success') >= 3 FROM pipeline.dag_runs WHERE dag = 'catch_up'},
	't', 'the missed intervals ran once the tasks came');
is(sql(q{SELECT count(*) FROM pipeline.dag_runs r WHERE r.dag = 'catch_up' AND r.status = 'success'
           AND NOT EXISTS (SELECT 1 FROM pipeline.task_runs tr WHERE tr.run_id = r.run_id)}),
	'0', 'every run that succeeded ran tasks');
is(sql(q{SELECT min(r.logical_date) = d.start_date FROM pipeline.dag_runs r, pipeline.dags d
          WHERE r.dag = 'catch_up' AND d.name = 'catch_up' GROUP BY d.start_date}),
	't', 'from start_date on');
sql(q{SELECT pipeline.drop_dag('catch_up')});

# ---------------------------------------------------------------------
# A watched table dropped and created again
# ---------------------------------------------------------------------
sql(q{
CREATE TABLE raw_events (id int);
CREATE TABLE seen (run_id bigint, at timestamptz DEFAULT clock_timestamp());
SELECT pipeline.create_dag('on_events', trigger_on => '{public.raw_events}');
SELECT pipeline.add_task('on_events', 'count', 'INSERT INTO seen (run_id) SELECT 1');
});
# the first pass notes the data version; writes after it count
wait_for_sql($node, 10, q{SELECT data_seen IS NOT NULL FROM pipeline.dags WHERE name = 'on_events'},
	't', 'the data-aware DAG is seen');
sql(q{INSERT INTO raw_events VALUES (1)});
wait_for_sql($node, 30, q{SELECT count(*) FROM pipeline.dag_runs WHERE dag = 'on_events' AND status = 'success'},
	'1', 'a write runs the DAG');

sql(q{DROP TABLE raw_events});
wait_for_sql($node, 10, q{SELECT watch_problem FROM pipeline.dags WHERE name = 'on_events'},
	'table public.raw_events was dropped; it is watched again once created again',
	'the scheduler sees the table dropped, and says so');
is(sql(q{SELECT array_to_string(watching, ',') || ': ' || watch_problem FROM pipeline.dag_status WHERE name = 'on_events'}),
	'public.raw_events: table public.raw_events was dropped; it is watched again once created again',
	'dag_status shows what it watches and why not');

sql(q{CREATE TABLE raw_events (id int, payload text)});
wait_for_sql($node, 15, q{SELECT watch_problem IS NULL AND trigger_on = '{public.raw_events}'::regclass[]
                           FROM pipeline.dags WHERE name = 'on_events'},
	't', 'the table created again is watched');
is(sql(q{SELECT count(*) FROM pg_trigger WHERE tgrelid = 'raw_events'::regclass AND tgname = 'pipeline_dag_data'}),
	'1', 'with its data trigger');
wait_for_sql($node, 30, q{SELECT count(*) FROM pipeline.dag_runs WHERE dag = 'on_events' AND status = 'success'},
	'2', 'its re-creation counts as new data: one run');
sql(q{INSERT INTO raw_events VALUES (2, 'after')});
wait_for_sql($node, 30, q{SELECT count(*) FROM pipeline.dag_runs WHERE dag = 'on_events' AND status = 'success'},
	'3', 'and its writes run the DAG again');
is(sql(q{SELECT count(*) FROM seen}), '3', 'each run ran its task');

# ---------------------------------------------------------------------
# The library before ALTER EXTENSION UPDATE: a database at 0.5.0
# ---------------------------------------------------------------------
sub old { return $node->safe_psql('old', $_[0]); }
sql(q{CREATE DATABASE old});
old(q{
CREATE EXTENSION pg_pipeline VERSION '0.5.0';
CREATE FUNCTION public.load_orders() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'orders are missing' USING DETAIL = 'The extract found 0 rows.';
END
$$;
SELECT pipeline.create_dag('old_dag');
SELECT pipeline.add_task('old_dag', 'fine', 'SELECT 1');
SELECT pipeline.add_task('old_dag', 'failing', 'SELECT public.load_orders()', upstream => '{fine}');
SELECT pipeline.run_now('old_dag');
});
ok(defined wait_until(30, sub { old(q{SELECT status FROM pipeline.dag_runs}) eq 'failed' }),
	'at 0.5.0, the scheduler runs a DAG (the tick of 0.5.0)');
is(old(q{SELECT string_agg(task || ':' || status || ':' || coalesce(error, ''), ',' ORDER BY task)
           FROM pipeline.task_runs}),
	'failing:failed:orders are missing,fine:success:', 'and the runner records the error as 0.5.0 did');
old(q{ALTER EXTENSION pg_pipeline UPDATE});
old(q{SELECT pipeline.run_now('old_dag')});
ok(defined wait_until(30, sub { old(q{SELECT count(*) FROM pipeline.dag_runs WHERE status = 'failed'}) eq '2' }),
	'after ALTER EXTENSION UPDATE, the same library runs it with the new tick');
is(old(q{SELECT error_detail FROM pipeline.task_runs WHERE task = 'failing' AND error_detail IS NOT NULL}),
	'The extract found 0 rows.', 'and records the error whole');

$node->stop;
done_testing();
