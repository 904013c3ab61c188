# The scheduler across downtime, restarts and deaths (issue 5): catch-up
# after the server was down (every missed fire, or only the latest), an
# attempt that was running when the server stopped (fast or immediate) is
# failed as such and retried, a killed runner fails its attempt with the
# worker's error and retries apply, a killed coordinator comes back and
# scheduling goes on, backfill over a date range (inclusive bounds, no
# duplicates, max_active_runs, each task sees its own interval), and
# depends_on_past holding a task until the previous run's is cleared.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $t_begin = time();
my $node = pipeline_node('sched_recovery');
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

sql('CREATE EXTENSION pg_pipeline');
ok(defined wait_until(10, sub { coordinator_pid($node, 'postgres') ne '' }),
	'coordinator runs');

# ---------------------------------------------------------------------
# Catch-up after the server was down.  (nc may run 3 at once: a fire is
# skipped while a run still waits, and a run the stop interrupted waits for
# its retry.)
# ---------------------------------------------------------------------
sql(q{
SELECT pipeline.create_dag('cu', '2 seconds', catchup => true,
                           start_date => now() - interval '5 seconds');
SELECT pipeline.add_task('cu', 't', 'SELECT 1', retries => 2, retry_delay => '1 second');
SELECT pipeline.create_dag('nc', '2 seconds', catchup => false, max_active_runs => 3);
SELECT pipeline.add_task('nc', 't', 'SELECT 1', retries => 2, retry_delay => '1 second');
});

# catch-up from start_date: the first run covers the first interval after it
wait_for_sql($node, 10, q{SELECT count(*) >= 3 FROM pipeline.dag_runs WHERE dag = 'cu' AND status = 'success'},
	't', 'catch-up DAG runs from its start_date');
is(sql(q{SELECT min(r.data_interval_end) = pipeline.cron_next('2 seconds', d.start_date)
           FROM pipeline.dag_runs r JOIN pipeline.dags d USING (dag_id)
          WHERE d.name = 'cu' GROUP BY d.start_date}),
	't', 'the first catch-up run ends at the first fire after start_date');
wait_for_sql($node, 10, q{SELECT count(*) >= 1 FROM pipeline.dag_runs WHERE dag = 'nc' AND status = 'success'},
	't', 'no-catch-up DAG runs');

$node->stop('fast');
my $t_down = time();
sleep 7;
my $t_up = time();
$node->start;
note(sprintf('server down for %.1f s', $t_up - $t_down));

# both go on after the restart
wait_for_sql($node, 15, qq{SELECT count(*) FILTER (WHERE dag = 'cu') > 0 AND count(*) FILTER (WHERE dag = 'nc') > 0
                  FROM pipeline.dag_runs
                 WHERE data_interval_end > to_timestamp($t_up) + interval '2 seconds'
                   AND status = 'success'},
	't', 'both DAGs run again after the restart');
sql(q{SELECT pipeline.disable('cu'); SELECT pipeline.disable('nc')});
wait_for_sql($node, 15, q{SELECT count(*) FROM pipeline.dag_runs WHERE dag IN ('cu', 'nc') AND status IN ('queued', 'running')},
	'0', 'runs of both DAGs finish');

# catchup => true: one scheduled run per fire, consecutive, none twice
is(sql(q{SELECT count(*) = count(DISTINCT logical_date)
                AND bool_and(logical_date = data_interval_end - interval '2 seconds')
                AND bool_and(run_type = 'scheduled')
                AND max(data_interval_end) - min(data_interval_end) = (count(*) - 1) * interval '2 seconds'
                AND bool_and(status = 'success')
           FROM pipeline.dag_runs WHERE dag = 'cu'}),
	't', 'catch-up: one run per 2-second interval, no gap, no duplicate, all succeeded');
my $missed = sql(qq{
    SELECT (SELECT count(*) FROM generate_series(pipeline.cron_next('2 seconds', to_timestamp($t_down)),
                                                 to_timestamp($t_up), interval '2 seconds') f
             WHERE f < to_timestamp($t_up))
           || ':' || count(*) || ':' || coalesce(bool_and(created_at >= to_timestamp($t_up)), false)
      FROM pipeline.dag_runs WHERE dag = 'cu'
       AND data_interval_end > to_timestamp($t_down) AND data_interval_end < to_timestamp($t_up)});
like($missed, qr/^([34]):\1:true$/,
	'catch-up: every fire missed while down (3 or 4 in 7 s) has its run, made after the start');

# catchup => false: only the latest missed fire
is(sql(qq{SELECT count(*) <= 1 FROM pipeline.dag_runs WHERE dag = 'nc'
           AND data_interval_end > to_timestamp($t_down) AND data_interval_end < to_timestamp($t_up)}),
	't', 'no catch-up: at most one run for the fires missed while down');
is(sql(q{SELECT count(*) = count(DISTINCT logical_date)
                AND bool_and(logical_date = data_interval_end - interval '2 seconds')
                AND bool_and(run_type = 'scheduled')
           FROM pipeline.dag_runs WHERE dag = 'nc'}),
	't', 'no catch-up: each run covers one 2-second interval, none twice');
is(sql(q{SELECT count(*) FILTER (WHERE gap >= interval '6 seconds') || ':'
             || count(*) FILTER (WHERE gap < interval '6 seconds' AND gap <> interval '2 seconds')
           FROM (SELECT data_interval_end - lag(data_interval_end) OVER (ORDER BY data_interval_end) AS gap
                   FROM pipeline.dag_runs WHERE dag = 'nc') g}),
	'1:0', 'no catch-up: the runs jump over the downtime once, else one every 2 s');
is(sql(qq{SELECT r.data_interval_end <= r.created_at
                AND r.data_interval_end > r.created_at - interval '2 seconds'
           FROM pipeline.dag_runs r
          WHERE r.dag = 'nc' AND r.created_at > to_timestamp($t_up)
          ORDER BY r.data_interval_end LIMIT 1}),
	't', 'no catch-up: the first run after the restart is the latest missed fire');
is(sql(q{SELECT bool_and(status = 'success') FROM pipeline.dag_runs WHERE dag = 'nc'}),
	't', 'no catch-up: all runs succeeded');

# ---------------------------------------------------------------------
# A task running while the server stops: failed as such, then retried.
# ---------------------------------------------------------------------
# attempts up to rr_conf.sleepers sleep 60 s (the attempt number is read
# from the catalog: a sequence would go back after a crash)
sql(q{
CREATE TABLE rr_conf (sleepers int NOT NULL);
INSERT INTO rr_conf VALUES (1);
CREATE TABLE rr_done (pid int, at timestamptz DEFAULT clock_timestamp());
SELECT pipeline.create_dag('rr');
SELECT pipeline.add_task('rr', 'sleepy',
    $$SELECT pg_sleep(CASE WHEN (SELECT attempt FROM pipeline.task_runs
                                  WHERE pid = pg_backend_pid() AND status = 'running')
                                <= (SELECT sleepers FROM rr_conf) THEN 60 ELSE 0 END);
      INSERT INTO rr_done (pid) VALUES (pg_backend_pid())$$,
    retries => 1, retry_delay => '1 second');
});

# Queue a run of rr whose first $sleepers attempts sleep, and wait until the
# first sleeps in a runner; returns (run_id, the runner's pid).
sub start_sleeper
{
	my ($sleepers, $name) = @_;
	sql("UPDATE rr_conf SET sleepers = $sleepers");
	my $run = sql(q{SELECT pipeline.run_now('rr')});
	my $pid = wait_runner($run, 1, $name);
	return ($run, $pid);
}

sub wait_runner
{
	my ($run, $attempt, $name) = @_;
	my $pid = '';
	ok(defined wait_until(15, sub {
		$pid = sql(qq{SELECT tr.pid FROM pipeline.task_runs tr
		                JOIN pg_stat_activity a ON a.pid = tr.pid
		               WHERE tr.run_id = $run AND tr.attempt = $attempt AND tr.status = 'running'
		                 AND a.backend_type = 'pg_pipeline runner' AND a.wait_event = 'PgSleep'});
		$pid ne '' }), $name);
	return $pid;
}

sub attempts
{
	my ($run) = @_;
	return sql(qq{SELECT string_agg(attempt || ':' || retry || ':' || status, ' ' ORDER BY attempt)
	                FROM pipeline.task_runs WHERE run_id = $run});
}

my $restart_error = 'the server or the scheduler restarted while the task ran';
for my $mode ('fast', 'immediate')
{
	my ($run) = start_sleeper(1, "$mode stop: the first attempt sleeps in a runner");
	$node->stop($mode);
	$node->start;
	wait_for_sql($node, 20, "SELECT status FROM pipeline.dag_runs WHERE run_id = $run", 'success',
		"$mode stop: the DAG run ends in success");
	is(attempts($run), '1:0:failed 2:1:success', "$mode stop: attempt 1 failed, attempt 2 (the retry) succeeded");
	is(sql("SELECT error || ' / ' || sqlstate FROM pipeline.task_runs WHERE run_id = $run AND attempt = 1"),
		"$restart_error / 57P01", "$mode stop: attempt 1's error says the server restarted");
	is(sql(qq{SELECT a2.scheduled_at = a1.ended_at + interval '1 second' AND a2.started_at >= a2.scheduled_at
	            FROM pipeline.task_runs a1 JOIN pipeline.task_runs a2 USING (run_id)
	           WHERE run_id = $run AND a1.attempt = 1 AND a2.attempt = 2}),
		't', "$mode stop: the retry waited its retry_delay");
	is(sql(qq{SELECT count(*) FROM rr_done d JOIN pipeline.task_runs tr ON tr.pid = d.pid
	           WHERE tr.run_id = $run AND tr.attempt = 2}),
		'1', "$mode stop: the retry's command ran to its end");
}

# ---------------------------------------------------------------------
# A killed runner: the attempt fails with the worker's error; retries
# apply, and once they are used up the run fails.
# ---------------------------------------------------------------------
my $runner_error = 'terminating background worker "pg_pipeline runner" due to administrator command';
{
	my ($run, $pid) = start_sleeper(1, 'runner kill: the first attempt sleeps');
	sql("SELECT pg_terminate_backend($pid)");
	wait_for_sql($node, 15, "SELECT status FROM pipeline.dag_runs WHERE run_id = $run", 'success',
		'runner kill: the DAG run ends in success');
	is(attempts($run), '1:0:failed 2:1:success', 'runner kill: attempt 1 failed, the retry succeeded');
	is(sql("SELECT error FROM pipeline.task_runs WHERE run_id = $run AND attempt = 1"),
		$runner_error, "runner kill: attempt 1's error is the runner's");

	($run, $pid) = start_sleeper(2, 'runner kill twice: the first attempt sleeps');
	sql("SELECT pg_terminate_backend($pid)");
	my $pid2 = wait_runner($run, 2, 'runner kill twice: the retry sleeps too');
	sql("SELECT pg_terminate_backend($pid2)");
	wait_for_sql($node, 15, "SELECT status FROM pipeline.dag_runs WHERE run_id = $run", 'failed',
		'runner kill twice: the DAG run fails once the retries are used up');
	is(attempts($run), '1:0:failed 2:1:failed', 'runner kill twice: no third attempt');
	is(sql("SELECT count(DISTINCT error) || ':' || min(error) FROM pipeline.task_runs WHERE run_id = $run"),
		"1:$runner_error", "runner kill twice: both attempts carry the runner's error");
}

# ---------------------------------------------------------------------
# A killed coordinator: the launcher starts another, which fails what the
# old one left running (then retried) and goes on scheduling.
# ---------------------------------------------------------------------
{
	sql(q{CREATE TABLE hb_log (at timestamptz DEFAULT clock_timestamp());
	      SELECT pipeline.schedule('hb', '1 seconds', 'INSERT INTO hb_log DEFAULT VALUES')});
	wait_for_sql($node, 10, q{SELECT count(*) > 0 FROM hb_log}, 't', 'coordinator kill: the 1-second job runs');
	my ($run) = start_sleeper(1, 'coordinator kill: an attempt sleeps');
	my $old = coordinator_pid($node, 'postgres');
	sql("SELECT pg_terminate_backend($old)");
	my $new = '';
	ok(defined wait_until(15, sub {
		$new = coordinator_pid($node, 'postgres'); $new ne '' && $new ne $old }),
		'coordinator kill: the launcher starts a new coordinator');
	my $new_start = sql("SELECT extract(epoch FROM backend_start) FROM pg_stat_activity WHERE pid = $new");
	wait_for_sql($node, 20, "SELECT status FROM pipeline.dag_runs WHERE run_id = $run", 'success',
		'coordinator kill: the DAG run that was running ends in success');
	is(attempts($run), '1:0:failed 2:1:success', 'coordinator kill: attempt 1 failed, the retry succeeded');
	is(sql("SELECT error FROM pipeline.task_runs WHERE run_id = $run AND attempt = 1"),
		$restart_error, 'coordinator kill: attempt 1 failed as one the scheduler lost');
	wait_for_sql($node, 10, qq{SELECT count(*) >= 2 FROM pipeline.dag_runs
	                 WHERE dag = 'hb' AND status = 'success' AND created_at > to_timestamp($new_start)},
		't', 'coordinator kill: the 1-second job goes on under the new coordinator');
	is(sql(qq{SELECT count(*) >= 2 FROM hb_log WHERE at > to_timestamp($new_start)}),
		't', "coordinator kill: and its command's rows are there");
	sql(q{SELECT pipeline.unschedule('hb')});
	is(sql("SELECT count(*) FROM pg_stat_activity WHERE pid = $old"), '0', 'the old coordinator is gone');
}

# ---------------------------------------------------------------------
# Backfill.
# ---------------------------------------------------------------------
# start_date tomorrow: no scheduled run gets in the way
sql(q{
CREATE TABLE bf_log (logical_date timestamptz, data_interval_end timestamptz, run_as name);
SELECT pipeline.create_dag('bf', '1 minute', max_active_runs => 2, start_date => now() + interval '1 day');
SELECT pipeline.add_task('bf', 'load',
    $$SELECT pg_sleep(0.4);
      INSERT INTO bf_log VALUES (pipeline.logical_date(), pipeline.data_interval_end(), current_user)$$);
});
my $t0 = sql(q{SELECT date_trunc('minute', now()) - interval '10 minutes'});
my $made = sql(qq{SELECT pipeline.backfill('bf', '$t0', timestamptz '$t0' + interval '5 minutes')});
is($made, '6', 'backfill over [T, T+5 min] on minute bounds: 6 runs (both bounds included)');
$made = sql(qq{SELECT pipeline.backfill('bf', timestamptz '$t0' - interval '9 minutes 30 seconds',
                                              timestamptz '$t0' - interval '4 minutes 30 seconds')});
is($made, '5', 'backfill over [T-9:30, T-4:30]: the 5 logical dates on minute bounds inside');
is(sql(qq{SELECT pipeline.backfill('bf', '$t0', timestamptz '$t0' + interval '5 minutes')
               + pipeline.backfill('bf', timestamptz '$t0' - interval '9 minutes 30 seconds',
                                         timestamptz '$t0' - interval '4 minutes 30 seconds')}),
	'0', 'backfill again over the same ranges: no run');
is(sql(qq{SELECT pipeline.backfill('bf', timestamptz '$t0' - interval '3 minutes', timestamptz '$t0' + interval '2 minutes')}),
	'3', 'an overlapping range [T-3, T+2] adds only the 3 intervals no run had (T-3 to T-1)');

my $expected = qq{SELECT g AS logical_date, g + interval '1 minute' AS data_interval_end
                    FROM generate_series(timestamptz '$t0' - interval '9 minutes',
                                         timestamptz '$t0' + interval '5 minutes', interval '1 minute') g
                   WHERE g <> timestamptz '$t0' - interval '4 minutes'};
my $runs = q{SELECT logical_date, data_interval_end FROM pipeline.dag_runs WHERE dag = 'bf'};
is(sql("SELECT count(*) FROM (($expected) EXCEPT ALL ($runs)) m") . '/' .
   sql("SELECT count(*) FROM (($runs) EXCEPT ALL ($expected)) x"),
	'0/0', 'backfill: one run per minute from T-9 to T+5 but T-4, with its data interval; missing/extra none');
is(sql(q{SELECT string_agg(DISTINCT run_type, ',') FROM pipeline.dag_runs WHERE dag = 'bf'}),
	'backfill', 'backfill: every run is of type backfill');
wait_for_sql($node, 30, q{SELECT string_agg(status || ':' || n, ',' ORDER BY status)
                 FROM (SELECT status, count(*) n FROM pipeline.dag_runs WHERE dag = 'bf' GROUP BY status) s},
	'success:14', 'backfill: all 14 runs succeed');
is(sql("SELECT count(*) FROM (($runs) EXCEPT ALL (SELECT logical_date, data_interval_end FROM bf_log)) m") . '/' .
   sql("SELECT count(*) FROM ((SELECT logical_date, data_interval_end FROM bf_log) EXCEPT ALL ($runs)) x"),
	'0/0', "backfill: each task saw its own run's logical_date and data_interval_end");
is(sql(q{SELECT string_agg(DISTINCT run_as, ',') FROM bf_log}), 'postgres',
	"backfill: tasks ran as the DAG's owner");
my $overlap = q{SELECT max(c) FROM (
                   SELECT (SELECT count(*) FROM %1$s y
                            WHERE y.dag = 'bf' AND y.started_at <= x.started_at AND y.ended_at > x.started_at) c
                     FROM %1$s x WHERE x.dag = 'bf') s};
is(sql(sprintf($overlap, 'pipeline.dag_runs')), '2',
	'backfill: at most max_active_runs (2) runs at once, and 2 were');
cmp_ok(sql(sprintf($overlap, 'pipeline.task_runs')), '<=', 2,
	'backfill: at most 2 tasks ran at once');

# max_active_runs => 1: one after the other, oldest first, none left waiting
# (a finished run must start the next at once, not at the next wake-up)
sql(q{
SELECT pipeline.create_dag('bf1', '1 minute', max_active_runs => 1, start_date => now() + interval '1 day');
SELECT pipeline.add_task('bf1', 'load', 'SELECT pg_sleep(0.2)');
});
is(sql(qq{SELECT pipeline.backfill('bf1', '$t0', timestamptz '$t0' + interval '3 minutes')}), '4',
	'backfill of a DAG with max_active_runs 1: 4 runs');
wait_for_sql($node, 10, q{SELECT string_agg(status, ',' ORDER BY logical_date) FROM pipeline.dag_runs WHERE dag = 'bf1'},
	'success,success,success,success', 'max_active_runs 1: the 4 runs succeed within seconds');
is(sql(q{SELECT bool_and(started_at >= prev_end) FROM (
           SELECT started_at, lag(ended_at) OVER (ORDER BY logical_date) AS prev_end
             FROM pipeline.dag_runs WHERE dag = 'bf1') s}),
	't', 'max_active_runs 1: each run started after the previous logical date ended');

# ---------------------------------------------------------------------
# depends_on_past: a task waits while its previous run's failed.
# ---------------------------------------------------------------------
sql(q{
CREATE TABLE dp_fail (ld timestamptz);
CREATE TABLE dp_log (ld timestamptz, at timestamptz);
CREATE FUNCTION dp_step() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM dp_fail WHERE ld = pipeline.logical_date()) THEN
        RAISE EXCEPTION 'planned failure';
    END IF;
    INSERT INTO dp_log VALUES (pipeline.logical_date(), clock_timestamp());
END
$$;
SELECT pipeline.create_dag('dp', '1 minute', max_active_runs => 2, start_date => now() + interval '1 day');
SELECT pipeline.add_task('dp', 'step', 'SELECT public.dp_step()', depends_on_past => true);
});
my $l1 = sql(q{SELECT date_trunc('minute', now()) - interval '30 minutes'});
sql(qq{INSERT INTO dp_fail VALUES ('$l1')});
is(sql(qq{SELECT pipeline.backfill('dp', '$l1', timestamptz '$l1' + interval '1 minute')}), '2',
	'depends_on_past: two consecutive runs queued');
my ($r1, $r2) = split /\n/, sql(q{SELECT run_id FROM pipeline.dag_runs WHERE dag = 'dp' ORDER BY logical_date});
wait_for_sql($node, 15, "SELECT status FROM pipeline.dag_runs WHERE run_id = $r1", 'failed',
	'depends_on_past: the first run fails');
sleep 2;
is(sql("SELECT status FROM pipeline.dag_runs WHERE run_id = $r2") . ' ' . attempts($r2),
	'running 1:0:waiting', 'depends_on_past: the next run is running and its task waits');
is(sql('SELECT count(*) FROM dp_log'), '0', 'depends_on_past: the waiting task did not run');
sql('DELETE FROM dp_fail');
is(sql("SELECT pipeline.clear('dp', $r1)"), '1', 'clear the failed run: one task again');
wait_for_sql($node, 15, "SELECT string_agg(status, ',' ORDER BY logical_date) FROM pipeline.dag_runs WHERE dag = 'dp'",
	'success,success', 'depends_on_past: after the clear both runs succeed');
is(attempts($r1), '1:0:failed 2:0:success', 'depends_on_past: the cleared task ran again');
is(sql(qq{SELECT string_agg((ld - timestamptz '$l1')::text, ',' ORDER BY at) FROM dp_log}), '00:00:00,00:01:00',
	'depends_on_past: the tasks ran in logical-date order, once each');
is(sql(qq{SELECT b.started_at >= a.ended_at
            FROM pipeline.task_runs a, pipeline.task_runs b
           WHERE a.run_id = $r1 AND a.attempt = 2 AND b.run_id = $r2 AND b.attempt = 1}),
	't', "depends_on_past: the next run's task started after the cleared one ended");

note(sprintf('total %.1f s', time() - $t_begin));
$node->stop;
done_testing();
