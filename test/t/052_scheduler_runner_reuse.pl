# A runner that finished an attempt takes the next queued attempt of its
# role itself (issue 15), after resetting its session as DISCARD ALL does.
# The attack: the first task of alice leaves everything a session can keep
# (search_path to a schema of hers, a temporary table shadowing the table
# the next task writes, a custom setting, work_mem, SET ROLE, a prepared
# statement, a cursor WITH HOLD, a session advisory lock), another takes an
# advisory lock and fails, a third sets default_transaction_read_only
# (which would also make the runner's own bookkeeping fail); LISTEN is
# refused in a background worker anyway.  The
# next tasks of alice, run by the same process, and bob's, run by another,
# must see none of it.  Also: the coordinator fails the attempt a reused
# runner held when it is terminated; runner_max_tasks = 1 gives a runner
# per attempt.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = pipeline_node('sched_reuse', conf => "pg_pipeline.max_task_runs = 1\n");
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

sql(q{
CREATE EXTENSION pg_pipeline;
CREATE ROLE alice LOGIN;
CREATE ROLE alice_admin NOLOGIN;
GRANT alice_admin TO alice;
CREATE ROLE bob LOGIN;
CREATE TABLE public.seen (task text, cu name, su name, pid int, search_path text, secret text,
                          temp_tables bigint, prepared bigint, cursors bigint, advisory bigint,
                          read_only text, work_mem text);
GRANT INSERT, SELECT ON public.seen TO PUBLIC;
CREATE SCHEMA evil AUTHORIZATION alice;
CREATE TABLE evil.seen (LIKE public.seen);
ALTER TABLE evil.seen OWNER TO alice;
});

# what a victim task records, writing to the unqualified "seen" as psql would
sub observe
{
	my ($task) = @_;
	return qq{INSERT INTO seen SELECT '$task', current_user, session_user, pg_backend_pid(),
	    current_setting('search_path'), current_setting('app.secret', true),
	    (SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()),
	    (SELECT count(*) FROM pg_prepared_statements), (SELECT count(*) FROM pg_cursors),
	    (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),
	    current_setting('default_transaction_read_only'), current_setting('work_mem')};
}

my $attack = q{INSERT INTO public.seen (task, cu, pid) VALUES ('a1', current_user, pg_backend_pid());
SET search_path = evil, public;
SELECT set_config('app.secret', 'alice-secret', false);
CREATE TEMP TABLE seen (LIKE public.seen);
PREPARE leak AS SELECT 1;
DECLARE leak CURSOR WITH HOLD FOR SELECT 1;
SELECT pg_advisory_lock(4242);
SET work_mem = '77kB';
SET ROLE alice_admin};
# fails, after taking a session lock that outlives its transaction
my $failing = q{SELECT pg_advisory_lock(4243); SELECT 1 / 0};
# makes every later transaction of the session read-only: the observer's
# INSERT, and the runner's own bookkeeping
my $read_only = q{SET default_transaction_read_only = on};

# a schedule that never fires by itself: everything runs by run_now
for my $job ([ 'a1', $attack ], [ 'a2', observe('a2') ], [ 'a3', $failing ], [ 'a4', observe('a4') ],
	[ 'a5', $read_only ], [ 'a6', observe('a6') ])
{
	sql_as($node, 'alice', "SELECT pipeline.schedule('$job->[0]', '0 0 1 1 *', \$cmd\$$job->[1]\$cmd\$)");
}
sql_as($node, 'bob', "SELECT pipeline.schedule('b1', '0 0 1 1 *', \$cmd\$" . observe('b1') . "\$cmd\$)");

# queued together, in this order; one runner at a time (max_task_runs = 1)
sql(q{BEGIN;
SELECT pipeline.run_now('a1'); SELECT pipeline.run_now('a2'); SELECT pipeline.run_now('a3');
SELECT pipeline.run_now('a4'); SELECT pipeline.run_now('a5'); SELECT pipeline.run_now('a6');
SELECT pipeline.run_now('b1');
COMMIT});
wait_for_sql($node, 30,
	q{SELECT count(*) FROM pipeline.dag_runs WHERE status IN ('success', 'failed')}, '7',
	'the seven runs finished');
is(sql(q{SELECT string_agg(dag || '=' || status, ',' ORDER BY dag) FROM pipeline.task_runs}),
	'a1=success,a2=success,a3=failed,a4=success,a5=success,a6=success,b1=success',
	'alice\'s attacks, her failing task and the observers ran as expected');

my $a1_pid = sql(q{SELECT pid FROM public.seen WHERE task = 'a1'});
is(sql(q{SELECT string_agg(task, ',' ORDER BY task) FROM public.seen WHERE pid = } . ($a1_pid || 0)),
	'a1,a2,a4,a6', 'one runner ran alice\'s attempts one after the other');
is(sql(q{SELECT count(DISTINCT pid) FROM pipeline.task_runs WHERE dag LIKE 'a%'}), '1',
	'the history names that one runner for each of alice\'s attempts');
isnt(sql(q{SELECT pid FROM public.seen WHERE task = 'b1'}), $a1_pid || 0,
	'bob\'s attempt ran in a runner of its own');

# nothing of the attack reached the next tasks
my $clean = "\"\$user\", public//0/0/0/0/off/4MB";
for my $t ([ 'a2', 'alice' ], [ 'a4', 'alice' ], [ 'a6', 'alice' ], [ 'b1', 'bob' ])
{
	my ($task, $role) = @$t;
	is(sql(qq{SELECT cu || '/' || su FROM public.seen WHERE task = '$task'}), "$role/$role",
		"$task ran as $role, not as the role the attack SET");
	is(sql(qq{SELECT concat_ws('/', search_path, coalesce(secret, ''), temp_tables, prepared, cursors, advisory,
	                            read_only, work_mem)
	           FROM public.seen WHERE task = '$task'}),
		"$clean",
		"$task: default search_path, no custom setting, no temporary table, prepared statement, cursor, "
		  . "advisory lock (not even the failed task's), default settings");
}
is(sql(q{SELECT count(*) FROM evil.seen}), '0', 'nothing was written through the attacker\'s search_path');
is(sql(q{SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'}), '0', 'no advisory lock is left held');
is(sql(q{SELECT count(*) FROM pipeline.task_runs WHERE status = 'running'}), '0', 'no attempt left running');

# ---------------------------------------------------------------------
# A reused runner terminated in its second attempt: the coordinator fails
# that attempt (the one the runner holds), not the first.
# ---------------------------------------------------------------------
sql_as($node, 'alice', q{SELECT pipeline.schedule('s1', '0 0 1 1 *', $$SELECT pg_sleep(0.1)$$);
                          SELECT pipeline.schedule('s2', '0 0 1 1 *', $$SELECT pg_sleep(60)$$)});
sql(q{BEGIN; SELECT pipeline.run_now('s1'); SELECT pipeline.run_now('s2'); COMMIT});
wait_for_sql($node, 30,
	q{SELECT count(*) FROM pipeline.task_runs WHERE dag = 's2' AND status = 'running' AND pid IS NOT NULL},
	'1', 's2 runs');
my $s_pid = sql(q{SELECT pid FROM pipeline.task_runs WHERE dag = 's2'});
is(sql(q{SELECT pid FROM pipeline.task_runs WHERE dag = 's1' AND status = 'success'}), $s_pid,
	's2 runs in the runner that ran s1');
sql("SELECT pg_terminate_backend($s_pid)");
wait_for_sql($node, 30, q{SELECT status FROM pipeline.task_runs WHERE dag = 's2'}, 'failed',
	'the attempt the terminated runner held failed');
like(sql(q{SELECT error FROM pipeline.task_runs WHERE dag = 's2'}), qr/terminat/,
	'with the runner\'s last error');
is(sql(q{SELECT status FROM pipeline.task_runs WHERE dag = 's1'}), 'success', 's1 stays a success');

# ---------------------------------------------------------------------
# runner_max_tasks = 1: a new runner for every attempt, as before 0.9.0
# ---------------------------------------------------------------------
sql(q{ALTER SYSTEM SET pg_pipeline.runner_max_tasks = 1; SELECT pg_reload_conf()});
sleep(1);
sql(q{TRUNCATE public.seen; BEGIN; SELECT pipeline.run_now('a2'); SELECT pipeline.run_now('a4'); COMMIT});
wait_for_sql($node, 30, q{SELECT count(*) FROM public.seen}, '2', 'a2 and a4 ran again');
is(sql(q{SELECT count(DISTINCT pid) FROM public.seen}), '2', 'runner_max_tasks = 1: each in a runner of its own');

$node->stop;
done_testing();
