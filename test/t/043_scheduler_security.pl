# The scheduler's roles (issue 5): a non-superuser schedules only as
# itself, sees and changes only its own DAGs, jobs and runs (row-level
# security on the catalogs, guards on every write); pipeline_admin sees and
# manages all, but cannot make anything run as another role that this role
# did not write; a superuser can.  Tasks run connected as their DAG's owner
# (session_user and current_user); a NOLOGIN owner's task fails with a clear
# error; the scheduler's internal functions are not callable by users.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $t_begin = time();
my $node = pipeline_node('sched_security');
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

# SQL as a role that must fail with an error matching $re
sub refused
{
	my ($role, $query, $re, $name) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $query,
		extra_params => [ '-U', $role, '-v', 'ON_ERROR_STOP=1' ]);
	ok($ret != 0 && $err =~ $re, $name)
	  or diag("exit $ret, stdout '$out', stderr '$err'");
}

# the command every task of this test runs: who it runs as, and in which process
sub whoami_sql
{
	my ($what) = @_;
	return "INSERT INTO public.whoami (what, su, cu, pid) VALUES ('$what', session_user, current_user, pg_backend_pid())";
}

# the identity recorded by the command of a task run: su/cu
sub ran_as
{
	my ($run, $task) = @_;
	return sql(qq{SELECT string_agg(w.su || '/' || w.cu, ',')
	                FROM pipeline.task_runs tr JOIN public.whoami w ON w.pid = tr.pid
	               WHERE tr.run_id = $run AND tr.task = '$task' AND tr.status = 'success'});
}

sub run_done
{
	my ($run, $expected, $name) = @_;
	return wait_for_sql($node, 15, "SELECT status FROM pipeline.dag_runs WHERE run_id = $run", $expected, $name);
}

sql(q{
CREATE EXTENSION pg_pipeline;
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE ROLE carol LOGIN IN ROLE pipeline_admin;
CREATE ROLE nologin NOLOGIN;
CREATE TABLE public.whoami (what text, su name, cu name, pid int, at timestamptz DEFAULT clock_timestamp());
GRANT INSERT ON public.whoami TO PUBLIC;
});

# ---------------------------------------------------------------------
# Each role's job runs as that role.
# ---------------------------------------------------------------------
sql_as($node, 'alice', "SELECT pipeline.schedule('alice_job', '2 seconds', \$\$" . whoami_sql('alice_job')
	. " /* alice-secret */\$\$)");
sql_as($node, 'alice', "SELECT pipeline.create_dag('alice_dag');
             SELECT pipeline.add_task('alice_dag', 'a1', \$\$" . whoami_sql('alice_dag.a1') . " /* alice-secret */\$\$)");
sql_as($node, 'bob', "SELECT pipeline.schedule('bob_job', '2 seconds', \$\$" . whoami_sql('bob_job') . "\$\$)");
is(sql(q{SELECT string_agg(name || ':' || owner, ',' ORDER BY name) FROM pipeline.dags}),
	'alice_dag:alice,alice_job:alice,bob_job:bob', 'each DAG is owned by the role that made it');

wait_for_sql($node, 15, q{SELECT string_agg(DISTINCT what, ',' ORDER BY what) FROM public.whoami}, 'alice_job,bob_job',
	'both jobs ran');
is(sql(q{SELECT string_agg(DISTINCT what || '=' || su || '/' || cu, ',' ORDER BY what || '=' || su || '/' || cu)
           FROM public.whoami}),
	'alice_job=alice/alice,bob_job=bob/bob',
	"each job's command runs as its owner (session_user/current_user)");
is(sql(q{SELECT count(*) FROM public.whoami w
          WHERE NOT EXISTS (SELECT 1 FROM pipeline.task_runs tr WHERE tr.pid = w.pid AND tr.task = w.what)}),
	'0', 'every recorded identity is that of a runner of the task');

my $alice_job = sql(q{SELECT dag_id FROM pipeline.dags WHERE name = 'alice_job'});
my $alice_dag = sql(q{SELECT dag_id FROM pipeline.dags WHERE name = 'alice_dag'});
my $bob_job = sql(q{SELECT dag_id FROM pipeline.dags WHERE name = 'bob_job'});
my $alice_run = sql(qq{SELECT min(run_id) FROM pipeline.dag_runs WHERE dag_id = $alice_job});
my $alice_command = sql(qq{SELECT command FROM pipeline.tasks WHERE dag_id = $alice_job});
like($alice_command, qr/alice-secret/, "alice's command as the superuser reads it");

# ---------------------------------------------------------------------
# bob sees only his own.
# ---------------------------------------------------------------------
is(sql_as($node, 'bob', q{SELECT string_agg(name, ',') FROM pipeline.dags}), 'bob_job', 'bob sees only his DAG');
is(sql_as($node, 'bob', q{SELECT string_agg(name || '=' || dag_id, ',') FROM pipeline.tasks}), "bob_job=$bob_job",
	'bob sees only his task');
is(sql_as($node, 'bob', q{SELECT count(*) FROM pipeline.tasks WHERE command LIKE '%alice%'}), '0',
	"bob cannot read alice's commands");
is(sql_as($node, 'bob', q{SELECT string_agg(name || ':' || command, ',') FROM pipeline.jobs}),
	'bob_job:' . whoami_sql('bob_job'), 'pipeline.jobs shows bob only his job');
is(sql_as($node, 'bob', q{SELECT string_agg(name, ',') FROM pipeline.dag_status}), 'bob_job',
	'pipeline.dag_status shows bob only his job');
is(sql_as($node, 'bob', q{SELECT count(*) > 0 AND bool_and(dag = 'bob_job') FROM pipeline.dag_runs}), 't',
	'bob sees only his dag_runs');
is(sql_as($node, 'bob', q{SELECT count(*) > 0 AND bool_and(dag = 'bob_job') FROM pipeline.task_runs}), 't',
	'bob sees only his task_runs');
is(sql(qq{SELECT count(*) > 0 FROM pipeline.task_runs WHERE dag_id = $alice_job}), 't',
	'(alice has task runs to hide)');

# ---------------------------------------------------------------------
# bob cannot change alice's, nor make anything run as alice.
# ---------------------------------------------------------------------
my $missing = qr/DAG or job "alice_(job|dag)" does not exist/;
refused('bob', q{SELECT pipeline.alter_job('alice_job', command => 'SELECT 1')}, $missing,
	"bob cannot alter alice's job");
refused('bob', q{SELECT pipeline.unschedule('alice_job')}, $missing, "bob cannot unschedule alice's job");
refused('bob', q{SELECT pipeline.disable('alice_job')}, $missing, "bob cannot disable alice's job");
refused('bob', q{SELECT pipeline.run_now('alice_job')}, $missing, "bob cannot run alice's job");
refused('bob', q{SELECT pipeline.clear('alice_job')}, $missing, "bob cannot clear alice's job");
refused('bob', qq{SELECT pipeline.clear('alice_job', $alice_run)}, $missing,
	"bob cannot clear a run of alice's job");
refused('bob', q{SELECT pipeline.backfill('alice_job', now() - interval '1 minute', now())}, $missing,
	"bob cannot backfill alice's job");
refused('bob', q{SELECT pipeline.add_task('alice_dag', 'evil', 'SELECT 1')}, $missing,
	"bob cannot add a task to alice's DAG");
refused('bob', q{SELECT pipeline.drop_task('alice_dag', 'a1')}, $missing, "bob cannot drop alice's task");
refused('bob', q{SELECT pipeline.drop_dag('alice_dag')}, $missing, "bob cannot drop alice's DAG");
refused('bob', q{SELECT pipeline.schedule('alice_job', '2 seconds', 'SELECT 1')},
	qr/already exists|duplicate key value|does not exist/,
	"bob cannot replace alice's job by scheduling its name");
refused('bob', qq{INSERT INTO pipeline.tasks (dag_id, name, command) VALUES ($alice_dag, 'evil', 'SELECT 1')},
	qr/DAG $alice_dag does not exist|only the owner of a DAG can write its tasks|row-level security/,
	"bob cannot INSERT a task into alice's DAG");
refused('bob', qq{UPDATE pipeline.tasks SET dag_id = $alice_dag WHERE dag_id = $bob_job},
	qr/DAG $alice_dag does not exist|only the owner of a DAG can write its tasks|row-level security/,
	"bob cannot move his task into alice's DAG");
is(sql_as($node, 'bob', qq{WITH u AS (UPDATE pipeline.tasks SET command = 'SELECT 1' WHERE dag_id = $alice_job RETURNING 1)
                SELECT count(*) FROM u}), '0', "bob's UPDATE of alice's command changes no row");
is(sql_as($node, 'bob', qq{WITH u AS (UPDATE pipeline.dags SET owner = 'bob' WHERE dag_id = $alice_job RETURNING 1)
                SELECT count(*) FROM u}), '0', "bob's UPDATE of alice's DAG changes no row");
is(sql_as($node, 'bob', q{WITH d AS (DELETE FROM pipeline.dags WHERE name LIKE 'alice%' RETURNING 1)
               SELECT count(*) FROM d}), '0', "bob's DELETE of alice's DAGs deletes nothing");
is(sql_as($node, 'bob', qq{WITH d AS (DELETE FROM pipeline.dag_runs WHERE dag_id = $alice_job RETURNING 1)
                SELECT count(*) FROM d}), '0', "bob's DELETE of alice's runs deletes nothing");
is(sql_as($node, 'bob', qq{WITH d AS (DELETE FROM pipeline.task_runs WHERE dag_id = $alice_job RETURNING 1)
                SELECT count(*) FROM d}), '0', "bob's DELETE of alice's task runs deletes nothing");
refused('bob', qq{INSERT INTO pipeline.dag_runs (dag_id, dag, run_type, logical_date, data_interval_end)
                  VALUES ($alice_job, 'alice_job', 'manual', now(), now())},
	qr/row-level security/, "bob cannot INSERT a run of alice's job");
refused('bob', qq{INSERT INTO pipeline.task_runs (run_id, dag_id, dag, task, status, logical_date)
                  VALUES ($alice_run, $alice_job, 'alice_job', 'alice_job', 'queued', now())},
	qr/row-level security/, "bob cannot INSERT an attempt of alice's task");
refused('bob', qq{INSERT INTO pipeline.task_runs (run_id, dag_id, dag, task, status, logical_date)
                  VALUES ($alice_run, $bob_job, 'bob_job', 'bob_job', 'queued', now())},
	qr/violates (foreign key constraint|row-level security policy)/,
	"bob cannot INSERT an attempt of his task into a run of alice's job");
is(sql(qq{SELECT command FROM pipeline.tasks WHERE dag_id = $alice_job}), $alice_command,
	"alice's command is unchanged");
is(sql(qq{SELECT string_agg(name, ',' ORDER BY name) FROM pipeline.tasks WHERE dag_id IN ($alice_job, $alice_dag)}),
	'a1,alice_job', "alice's tasks are unchanged");

# the owner herself may do what bob may not (so the refusals above are about bob)
sql_as($node, 'alice', q{SELECT pipeline.alter_job('alice_job', retries => 1)});
is(sql_as($node, 'alice', q{SELECT retries FROM pipeline.tasks WHERE name = 'alice_job'}), '1',
	'alice alters her own job');

# a DAG that bob writes is bob's, whatever owner he names; its tasks run as bob
sql_as($node, 'bob', q{INSERT INTO pipeline.dags (name, owner) VALUES ('bob_as_alice', 'alice')});
is(sql(q{SELECT owner FROM pipeline.dags WHERE name = 'bob_as_alice'}), 'bob',
	"bob's INSERT of a DAG owned by alice makes it bob's");
refused('bob', q{UPDATE pipeline.dags SET owner = 'alice' WHERE name = 'bob_as_alice'},
	qr/only a superuser can change the owner of DAG "bob_as_alice"/, 'bob cannot give his DAG to alice');
sql_as($node, 'bob', "SELECT pipeline.add_task('bob_as_alice', 't', \$\$" . whoami_sql('bob_as_alice') . "\$\$)");
my $run = sql_as($node, 'bob', q{SELECT pipeline.run_now('bob_as_alice')});
run_done($run, 'success', "bob's run of bob_as_alice succeeds");
is(ran_as($run, 't'), 'bob/bob', 'and its task ran as bob');

# ---------------------------------------------------------------------
# carol (pipeline_admin) sees and manages all, but writes no one's tasks.
# ---------------------------------------------------------------------
is(sql_as($node, 'carol', q{SELECT string_agg(name, ',' ORDER BY name) FROM pipeline.dags}),
	'alice_dag,alice_job,bob_as_alice,bob_job', 'carol sees every DAG');
is(sql_as($node, 'carol', qq{SELECT command FROM pipeline.tasks WHERE dag_id = $alice_job}), $alice_command,
	"carol reads alice's command");
is(sql_as($node, 'carol', qq{SELECT count(*) > 0 FROM pipeline.task_runs WHERE dag_id = $alice_job}), 't',
	"carol sees alice's task runs");
sql_as($node, 'carol', q{SELECT pipeline.disable('alice_job')});
is(sql(q{SELECT enabled::text || ':' || owner FROM pipeline.dags WHERE name = 'alice_job'}),
	'false:alice', "carol disables alice's job (still alice's)");
$run = sql_as($node, 'carol', q{SELECT pipeline.run_now('alice_job')});
run_done($run, 'success', "carol's run_now of alice's job succeeds");
is(ran_as($run, 'alice_job'), 'alice/alice', "and it ran as alice, not as carol");
my $guard = qr/only the owner of a DAG can write its tasks/;
refused('carol', q{SELECT pipeline.add_task('alice_dag', 'evil', 'SELECT 1')}, $guard,
	"carol cannot add a task to alice's DAG");
refused('carol', q{SELECT pipeline.alter_job('alice_job', command => 'SELECT 1')}, $guard,
	"carol cannot change the command of alice's job");
refused('carol', q{SELECT pipeline.schedule('alice_job', '2 seconds', 'SELECT 1')}, $guard,
	"carol cannot replace alice's job by scheduling its name");
refused('carol', qq{UPDATE pipeline.tasks SET command = 'SELECT 1' WHERE dag_id = $alice_job}, $guard,
	"carol cannot UPDATE the command of alice's task");
refused('carol', qq{INSERT INTO pipeline.tasks (dag_id, name, command) VALUES ($alice_dag, 'evil', 'SELECT 1')},
	$guard, "carol cannot INSERT a task into alice's DAG");
refused('carol', q{UPDATE pipeline.dags SET owner = 'carol' WHERE name = 'alice_dag'},
	qr/only a superuser can change the owner/, "carol cannot take alice's DAG");
sql_as($node, 'carol', q{SELECT pipeline.create_dag('carol_dag'); SELECT pipeline.add_task('carol_dag', 't', 'SELECT 1')});
refused('carol', qq{UPDATE pipeline.tasks SET dag_id = $alice_dag WHERE name = 't' AND dag_id =
                    (SELECT dag_id FROM pipeline.dags WHERE name = 'carol_dag')},
	$guard, "carol cannot move her task into alice's DAG");
sql_as($node, 'carol', q{INSERT INTO pipeline.dags (name, owner) VALUES ('carol_as_alice', 'alice')});
is(sql(q{SELECT owner FROM pipeline.dags WHERE name = 'carol_as_alice'}), 'carol',
	"carol's INSERT of a DAG owned by alice makes it carol's");
is(sql(qq{SELECT command FROM pipeline.tasks WHERE dag_id = $alice_job}), $alice_command,
	"alice's command is still unchanged");
is(sql(qq{SELECT string_agg(name, ',' ORDER BY name) FROM pipeline.tasks WHERE dag_id IN ($alice_job, $alice_dag)}),
	'a1,alice_job', "alice's tasks are still unchanged");

# ---------------------------------------------------------------------
# A superuser can write alice's tasks; they run as alice.
# ---------------------------------------------------------------------
sql("SELECT pipeline.add_task('alice_dag', 'su_added', \$\$" . whoami_sql('alice_dag.su_added') . "\$\$, upstream => '{a1}')");
$run = sql(q{SELECT pipeline.run_now('alice_dag')});
run_done($run, 'success', "the superuser's run of alice_dag succeeds");
is(ran_as($run, 'a1') . ' ' . ran_as($run, 'su_added'), 'alice/alice alice/alice',
	"alice's task and the superuser's task in her DAG both run as alice");

# ---------------------------------------------------------------------
# Another role's running command is not readable in pg_stat_activity.
# ---------------------------------------------------------------------
sql_as($node, 'alice', q{SELECT pipeline.create_dag('alice_slow');
              SELECT pipeline.add_task('alice_slow', 't', 'SELECT pg_sleep(30) /* alice-secret-slow */')});
$run = sql_as($node, 'alice', q{SELECT pipeline.run_now('alice_slow')});
my $pid = '';
ok(defined wait_until(15, sub {
	$pid = sql(qq{SELECT a.pid FROM pg_stat_activity a JOIN pipeline.task_runs tr ON tr.pid = a.pid
	               WHERE tr.run_id = $run AND a.wait_event = 'PgSleep'});
	$pid ne '' }), "alice's slow task runs");
is(sql("SELECT usename || ':' || backend_type || ':' || (query LIKE '%alice-secret-slow%')::text
          FROM pg_stat_activity WHERE pid = $pid"),
	'alice:pg_pipeline runner:true', "the runner is connected as alice and shows alice's command to a superuser");
is(sql_as($node, 'bob', "SELECT coalesce(query, '') FROM pg_stat_activity WHERE pid = $pid"), '<insufficient privilege>',
	"bob cannot read alice's running command in pg_stat_activity");
sql("SELECT pg_terminate_backend($pid)");
run_done($run, 'failed', "alice's slow run ends once its runner is terminated");

# ---------------------------------------------------------------------
# A NOLOGIN owner: the runner cannot connect; the error says why.
# ---------------------------------------------------------------------
sql(q{SET ROLE nologin;
      SELECT pipeline.create_dag('nologin_dag');
      SELECT pipeline.add_task('nologin_dag', 't', 'SELECT 1');
      RESET ROLE});
is(sql(q{SELECT owner FROM pipeline.dags WHERE name = 'nologin_dag'}), 'nologin', 'a DAG owned by a NOLOGIN role');
$run = sql(q{SELECT pipeline.run_now('nologin_dag')});
run_done($run, 'failed', "the NOLOGIN role's run fails");
is(sql(qq{SELECT attempt || ':' || status || ':' || error FROM pipeline.task_runs WHERE run_id = $run}),
	'1:failed:role "nologin" is not permitted to log in',
	'task_runs.error says the role may not log in');

# ---------------------------------------------------------------------
# The scheduler's internal functions are the scheduler's alone.
# ---------------------------------------------------------------------
for my $call ('_scheduler_tick(false, false)', '_scheduler_dispatch(1)', '_task_run_start(1)',
	"_task_run_finish(1, 'success', NULL, NULL, NULL)", "_data_version('{pg_class}')")
{
	my ($fn) = $call =~ /^(\w+)/;
	refused('alice', "SELECT pipeline.$call", qr/permission denied for function $fn/,
		"alice cannot call pipeline.$fn");
}
# (nothing above changed the catalogs)
is(sql(q{SELECT count(*) FROM pipeline.task_runs WHERE status IN ('queued', 'running')
                AND dag NOT IN ('alice_job', 'bob_job')}), '0', 'no attempt was left queued or running');

sql(q{SELECT pipeline.unschedule('bob_job')});
note(sprintf('total %.1f s', time() - $t_begin));
$node->stop;
done_testing();
