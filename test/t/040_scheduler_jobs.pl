# One-line jobs (pipeline.schedule), as pg_cron users expect them: an
# interval job runs every time it is due, as the role that scheduled it (not
# a superuser), within a second of its instant; run_now, alter_job,
# disable/enable, unschedule and re-scheduling a name; failures with their
# error and SQLSTATE, retries after retry_delay and exponential backoff;
# timeouts that stop the runner; top-level commands (VACUUM, CALL of a
# procedure that commits, several statements in one transaction); history
# retention and errors-only history; NOTIFY on pipeline_scheduler; and the
# cap pg_pipeline.max_task_runs.
#
# Most sections run at once (their jobs are all scheduled at the start) so
# the file stays well under a minute.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use JSON::PP;
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $t_start = time();
# 8 runners at once while the sections overlap; the cap section lowers it
my $node = pipeline_node('scheduler_jobs', conf => "pg_pipeline.max_task_runs = 8\n");
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

sql(q{
CREATE EXTENSION pg_pipeline;
CREATE ROLE alice LOGIN;
CREATE SCHEMA alice AUTHORIZATION alice;
});
sql_as($node, 'alice', q{
CREATE FUNCTION alice.super() RETURNS boolean LANGUAGE sql STABLE
    AS $$ SELECT rolsuper FROM pg_roles WHERE rolname = current_user $$;
-- what each task wrote, and as whom, in which transaction, for which interval
CREATE TABLE alice.ticks (
    id    bigserial PRIMARY KEY,
    tag   text NOT NULL,
    at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    cu    name DEFAULT current_user,
    su    name DEFAULT session_user,
    super boolean DEFAULT alice.super(),
    ld    timestamptz DEFAULT pipeline.logical_date(),
    die   timestamptz DEFAULT pipeline.data_interval_end(),
    xid   bigint DEFAULT txid_current());
CREATE TABLE alice.vac_me (id int, pad text);
INSERT INTO alice.vac_me SELECT i, repeat('x', 100) FROM generate_series(1, 2000) i;
DELETE FROM alice.vac_me WHERE id % 2 = 0;
CREATE PROCEDURE alice.two_commits() LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO alice.ticks (tag) VALUES ('proc-1');
    COMMIT;
    INSERT INTO alice.ticks (tag) VALUES ('proc-2');
    COMMIT;
END
$$;
});
is(sql("SELECT rolsuper FROM pg_roles WHERE rolname = 'alice'"), 'f', 'alice is not a superuser');

# A session that listens to the scheduler's announcements.
my ($listener, $poll) = listen_json($node, 'pipeline_scheduler');

# ---- everything starts at once ------------------------------------------------

# '0 0 1 1 *' is a far schedule (New Year, UTC); checks on those jobs look
# at their manual runs only.
my $t0 = time();
sql_as($node, 'alice', q{
SELECT pipeline.schedule('every1', '1 second', $$INSERT INTO alice.ticks (tag) VALUES ('every1')$$);
SELECT pipeline.schedule('quiet', '1 second', $$INSERT INTO alice.ticks (tag) VALUES ('quiet')$$,
                         history_errors_only => true);
SELECT pipeline.schedule('short', '1 second', $$INSERT INTO alice.ticks (tag) VALUES ('short')$$,
                         history_retention => '2 seconds');
SELECT pipeline.schedule('failjob', '0 0 1 1 *', 'SELECT 1/0', retries => 2, retry_delay => '1 second');
SELECT pipeline.create_dag('backoff');
SELECT pipeline.add_task('backoff', 'flaky', 'SELECT 1/0', retries => 3, retry_delay => '1 second',
                         retry_exponential_backoff => true);
SELECT pipeline.schedule('sleeper', '0 0 1 1 *', 'SELECT pg_sleep(30)', timeout => '1 second');
SELECT pipeline.schedule('vac', '0 0 1 1 *', 'VACUUM alice.vac_me');
SELECT pipeline.schedule('proc', '0 0 1 1 *', 'CALL alice.two_commits()');
SELECT pipeline.schedule('multi', '0 0 1 1 *',
    $$INSERT INTO alice.ticks (tag) VALUES ('multi-1'); INSERT INTO alice.ticks (tag) VALUES ('multi-2')$$);
SELECT pipeline.schedule('multibad', '0 0 1 1 *',
    $$INSERT INTO alice.ticks (tag) VALUES ('multibad-1'); INSERT INTO alice.ticks (tag) VALUES ((1/0)::text)$$);
SELECT pipeline.schedule('far', '0 0 1 1 *', $$INSERT INTO alice.ticks (tag) VALUES ('far-1')$$);
});
sql_as($node, 'alice', q{
SELECT pipeline.run_now(n) FROM unnest('{failjob,backoff,sleeper,vac,proc,multi,multibad,far}'::text[]) n;
});
is(sql("SELECT string_agg(DISTINCT owner, ',') FROM pipeline.dags"), 'alice', 'every job is owned by alice');
is(sql("SELECT count(*) FROM pipeline.dags WHERE is_job"), '10', 'pipeline.schedule made 10 jobs');

# ---- an interval job runs every second, as alice -----------------------------

wait_for_sql($node, 10, "SELECT count(*) >= 4 FROM alice.ticks WHERE tag = 'every1'", 't',
	"a '1 second' job ran 4 times");
note(sprintf('every1 ran 4 times %.1f s after scheduling', time() - $t0));
my $runs_ok = sql(q{
SELECT count(*) FILTER (WHERE tr.status = 'success') || '/' || count(*) FILTER (WHERE tr.status = 'failed')
       || '/' || count(*) FILTER (WHERE tr.rows_affected = 1)
  FROM pipeline.task_runs tr WHERE tr.dag = 'every1' AND tr.status IN ('success', 'failed')});
my ($succ, $fail, $one) = split m{/}, $runs_ok;
cmp_ok($succ, '>=', 4, "every1: task_runs show $succ successful runs");
is($fail, '0', 'every1: no failed run');
is($one, $succ, 'every1: each run reports rows_affected = 1');
is(sql(q{SELECT string_agg(DISTINCT run_type, ',') FROM pipeline.dag_runs WHERE dag = 'every1'}),
	'scheduled', 'every1: its runs are scheduled runs');
is(sql(q{
SELECT bool_and(data_interval_end - logical_date = '1 second'
                AND extract(epoch FROM data_interval_end) = floor(extract(epoch FROM data_interval_end)))
  FROM pipeline.dag_runs WHERE dag = 'every1'}), 't',
	'every1: each run covers one second [logical_date, data_interval_end) on a whole second');
is(sql(q{
SELECT (extract(epoch FROM max(data_interval_end) - min(data_interval_end)) + 1)::int = count(*)
  FROM pipeline.dag_runs WHERE dag = 'every1'}), 't',
	'every1: one run per second, none missed, none twice');
my $lat = sql(q{
SELECT round(extract(epoch FROM min(tr.started_at - r.data_interval_end)) * 1000) || ' '
       || round(extract(epoch FROM max(tr.started_at - r.data_interval_end)) * 1000)
  FROM pipeline.dag_runs r JOIN pipeline.task_runs tr ON tr.run_id = r.run_id
 WHERE r.dag = 'every1' AND tr.started_at IS NOT NULL});
my ($lat_min, $lat_max) = split / /, $lat;
note("every1: start latency after data_interval_end: min $lat_min ms, max $lat_max ms");
cmp_ok($lat_min, '>=', 0, 'every1: no run starts before its instant');
cmp_ok($lat_max, '<', 1000, 'every1: every run starts within 1 s of its instant');
is(sql(q{SELECT string_agg(DISTINCT cu || '/' || su || '/' || super, ',') FROM alice.ticks WHERE tag = 'every1'}),
	'alice/alice/false', 'every1: the command ran as alice (current_user and session_user), not a superuser');
is(sql(q{
SELECT count(*) FROM alice.ticks k
 WHERE k.tag = 'every1'
   AND NOT EXISTS (SELECT 1 FROM pipeline.dag_runs r
                    WHERE r.dag = 'every1' AND r.logical_date = k.ld AND r.data_interval_end = k.die)}), '0',
	'every1: logical_date() and data_interval_end() in the task equal its dag run\'s');
is(sql(q{SELECT name || ':' || owner || ':' || enabled || ':' || last_status FROM pipeline.jobs WHERE name = 'every1'}),
	'every1:alice:true:success', 'pipeline.jobs shows the job, its owner and its last status');

# ---- alter_job: command and schedule -----------------------------------------

sql_as($node, 'alice', q{SELECT pipeline.alter_job('every1', schedule => '2 seconds',
                                                 command => $$INSERT INTO alice.ticks (tag) VALUES ('every1-v2')$$)});
my $t_alter = sql('SELECT clock_timestamp()');
wait_for_sql($node, 10, "SELECT count(*) >= 3 FROM alice.ticks WHERE tag = 'every1-v2'", 't',
	'alter_job: the new command runs');
is(sql(qq{SELECT count(*) FROM alice.ticks WHERE tag = 'every1' AND at > '$t_alter'::timestamptz + interval '0.5 s'}),
	'0', 'alter_job: the old command does not run any more');
is(sql(q{
SELECT bool_and(extract(epoch FROM die)::bigint % 2 = 0 AND die - ld = '2 seconds')
  FROM alice.ticks WHERE tag = 'every1-v2'}), 't',
	"alter_job: the new runs are on the '2 seconds' schedule (even seconds, 2 s intervals)");
is(sql(qq{
SELECT bool_and(d = '2 seconds') FROM (
    SELECT data_interval_end - lag(data_interval_end) OVER (ORDER BY data_interval_end) AS d
      FROM pipeline.dag_runs WHERE dag = 'every1' AND created_at > '$t_alter') x WHERE d IS NOT NULL}), 't',
	'alter_job: runs come every 2 seconds');

# ---- disable / enable ------------------------------------------------------

sql_as($node, 'alice', q{SELECT pipeline.disable('every1')});
my $t_dis = sql('SELECT clock_timestamp()');
is(sql(q{SELECT enabled FROM pipeline.jobs WHERE name = 'every1'}), 'f', 'disable: pipeline.jobs shows it disabled');
sleep(5);
is(sql(qq{SELECT count(*) FROM pipeline.dag_runs WHERE dag = 'every1' AND created_at > '$t_dis'}), '0',
	'disable: no new run in 5 s (two fires of a 2-second job)');
sql_as($node, 'alice', q{SELECT pipeline.enable('every1')});
my $t_en = sql('SELECT clock_timestamp()');
wait_for_sql($node, 4, qq{SELECT count(*) > 0 FROM pipeline.dag_runs
                          WHERE dag = 'every1' AND created_at > '$t_en' AND status = 'success'}, 't',
	'enable: the job runs again');
is(sql(qq{SELECT count(*) FROM pipeline.dag_runs WHERE dag = 'every1'
           AND data_interval_end > '$t_dis' AND data_interval_end <= '$t_en'}), '0',
	'enable: the fires missed while disabled are not run (no catch-up)');

# ---- unschedule --------------------------------------------------------------

my $every1_id = sql(q{SELECT dag_id FROM pipeline.dags WHERE name = 'every1'});
sql_as($node, 'alice', q{SELECT pipeline.unschedule('every1')});
is(sql(qq{SELECT (SELECT count(*) FROM pipeline.dags WHERE dag_id = $every1_id) || '/'
              || (SELECT count(*) FROM pipeline.tasks WHERE dag_id = $every1_id) || '/'
              || (SELECT count(*) FROM pipeline.dag_runs WHERE dag_id = $every1_id) || '/'
              || (SELECT count(*) FROM pipeline.task_runs WHERE dag_id = $every1_id)}),
	'0/0/0/0', 'unschedule removes the job, its task and all its history');
my $n_every = sql(q{SELECT count(*) FROM alice.ticks WHERE tag LIKE 'every1%'});
sleep(1);
# a run that was in flight at the unschedule could still add one row
cmp_ok(sql(q{SELECT count(*) FROM alice.ticks WHERE tag LIKE 'every1%'}), '<=', $n_every + 1,
	'unschedule: the job stops running');

# ---- run_now and re-scheduling a name ------------------------------------------

wait_for_sql($node, 5, q{SELECT count(*) = 1 FROM alice.ticks WHERE tag = 'far-1'}, 't', 'run_now: the job ran');
is(sql(q{
SELECT r.run_type || ':' || r.status || ':' || tr.status || ':' || tr.rows_affected
  FROM pipeline.dag_runs r JOIN pipeline.task_runs tr ON tr.run_id = r.run_id
 WHERE r.dag = 'far' AND r.run_type = 'manual'}), 'manual:success:success:1', 'run_now: one manual run, success');
my $far_lat = sql(q{
SELECT round(extract(epoch FROM tr.started_at - r.created_at) * 1000)
  FROM pipeline.dag_runs r JOIN pipeline.task_runs tr ON tr.run_id = r.run_id
 WHERE r.dag = 'far' AND r.run_type = 'manual'});
note("run_now: task started $far_lat ms after the run was queued");
cmp_ok($far_lat, '<', 1000, 'run_now: the task starts at once (within 1 s), not at the far schedule');
is(sql(q{
SELECT k.ld = r.logical_date AND k.die = r.data_interval_end
       AND r.data_interval_end = date_trunc('year', r.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
       AND r.logical_date = (date_trunc('year', r.created_at AT TIME ZONE 'UTC') - interval '1 year') AT TIME ZONE 'UTC'
  FROM alice.ticks k, pipeline.dag_runs r
 WHERE k.tag = 'far-1' AND r.dag = 'far' AND r.run_type = 'manual'}), 't',
	'run_now: the run covers the latest complete interval (last year, UTC), as the task saw it');

my $far_id = sql(q{SELECT dag_id FROM pipeline.dags WHERE name = 'far'});
is(sql_as($node, 'alice', q{SELECT pipeline.schedule('far', '0 0 1 1 *', $$INSERT INTO alice.ticks (tag) VALUES ('far-2')$$)}),
	$far_id, 'scheduling the same name again returns the same job');
is(sql(q{SELECT count(*) || ':' || string_agg(command, ',') FROM pipeline.jobs WHERE name = 'far'}),
	q{1:INSERT INTO alice.ticks (tag) VALUES ('far-2')}, 'and replaces its command (one job)');
sql_as($node, 'alice', q{SELECT pipeline.run_now('far')});
wait_for_sql($node, 5, q{SELECT count(*) = 1 FROM alice.ticks WHERE tag = 'far-2'}, 't',
	'the replaced job runs its new command');
is(sql(q{SELECT count(*) FROM alice.ticks WHERE tag = 'far-1'}), '1', 'and not the old one');

# ---- top-level commands -------------------------------------------------------

sub job_outcome
{
	my ($job) = @_;
	return sql(qq{SELECT string_agg(tr.status || ':' || coalesce(tr.rows_affected::text, '-') || ':'
	                                || coalesce(tr.error, '-'), ',' ORDER BY tr.attempt)
	                FROM pipeline.task_runs tr JOIN pipeline.dag_runs r ON r.run_id = tr.run_id
	               WHERE tr.dag = '$job' AND r.run_type = 'manual'});
}
wait_for_sql($node, 10, q{SELECT count(*) = 4 FROM pipeline.dag_runs
                           WHERE dag IN ('vac', 'proc', 'multi', 'multibad') AND run_type = 'manual'
                             AND status IN ('success', 'failed')}, 't',
	'the top-level jobs finished');
like(job_outcome('vac'), qr/^success:/, 'VACUUM as a job succeeds');
wait_for_sql($node, 5, q{SELECT vacuum_count = 1 AND last_vacuum IS NOT NULL
                          FROM pg_stat_user_tables WHERE relid = 'alice.vac_me'::regclass}, 't',
	'and the table was vacuumed (pg_stat_user_tables.last_vacuum, vacuum_count = 1)');
like(job_outcome('proc'), qr/^success:/, 'CALL of a procedure that commits twice succeeds');
is(sql(q{SELECT string_agg(tag, ',' ORDER BY id) || ' ' || count(DISTINCT xid)
           FROM alice.ticks WHERE tag LIKE 'proc-%'}),
	'proc-1,proc-2 2', 'both inserts of the procedure are visible, in two transactions');
is(job_outcome('multi'), 'success:2:-', 'two statements in one command: success, 2 rows');
is(sql(q{SELECT string_agg(tag, ',' ORDER BY id) || ' ' || count(DISTINCT xid)
           FROM alice.ticks WHERE tag LIKE 'multi-%'}),
	'multi-1,multi-2 1', 'both rows, in one transaction');
like(job_outcome('multibad'), qr/^failed:-:division by zero$/, 'two statements, the second fails: the run fails');
is(sql(q{SELECT count(*) FROM alice.ticks WHERE tag LIKE 'multibad-%'}), '0',
	'and the first statement\'s row was rolled back');

# ---- timeout -----------------------------------------------------------------

wait_for_sql($node, 10, q{SELECT status = 'failed' FROM pipeline.task_runs WHERE dag = 'sleeper'}, 't',
	'a task running past its timeout fails');
my ($sl_status, $sl_secs, $sl_state, $sl_err, $sl_pid) = split /\|/, sql(q{
SELECT status, extract(epoch FROM ended_at - started_at), sqlstate, error, pid
  FROM pipeline.task_runs WHERE dag = 'sleeper'});
note("timeout: failed after $sl_secs s: $sl_err");
cmp_ok($sl_secs, '>=', 0.95, 'timeout: not before its 1 s timeout');
cmp_ok($sl_secs, '<', 2.5, 'timeout: soon after its 1 s timeout (not after pg_sleep(30))');
like($sl_err, qr/timed out/, 'timeout: the error says it timed out');
is($sl_state, '57014', 'timeout: sqlstate 57014 (query_canceled)');
ok(defined wait_until(5, sub {
	sql(qq{SELECT count(*) FROM pg_stat_activity WHERE pid = $sl_pid OR query = 'SELECT pg_sleep(30)'}) eq '0' }),
	'timeout: its runner is gone and nothing runs pg_sleep(30) any more');
is(sql(q{SELECT status FROM pipeline.dag_runs WHERE dag = 'sleeper'}), 'failed', 'timeout: the run failed');

# ---- failures, retries and backoff ----------------------------------------------

wait_for_sql($node, 10, q{SELECT status = 'failed' FROM pipeline.dag_runs WHERE dag = 'failjob'}, 't',
	'a failing job with 2 retries ends failed');
is(sql(q{
SELECT string_agg(attempt || ':' || retry || ':' || status || ':' || error || ':' || sqlstate, ',' ORDER BY attempt)
  FROM pipeline.task_runs WHERE dag = 'failjob'}),
	'1:0:failed:division by zero:22012,2:1:failed:division by zero:22012,3:2:failed:division by zero:22012',
	'retries: attempts 1, 2, 3, each failed with its error and SQLSTATE');
my $gaps = sql(q{
SELECT string_agg(round(extract(epoch FROM started_at - prev_end), 2)::text, ',' ORDER BY attempt) FROM (
    SELECT attempt, started_at, lag(ended_at) OVER (ORDER BY attempt) AS prev_end
      FROM pipeline.task_runs WHERE dag = 'failjob') x WHERE prev_end IS NOT NULL});
note("retries: gaps between attempts: $gaps s");
my @g = split /,/, $gaps;
is(scalar(@g), 2, 'retries: two gaps');
ok((!grep { $_ < 1.0 || $_ > 2.0 } @g), "retries: each retry starts 1 s (retry_delay) after the last attempt ended: $gaps");
like(sql(q{SELECT last_status || ':' || last_error FROM pipeline.jobs WHERE name = 'failjob'}),
	qr/^failed:division by zero$/, 'pipeline.jobs shows the last error');

wait_for_sql($node, 15, q{SELECT status = 'failed' FROM pipeline.dag_runs WHERE dag = 'backoff'}, 't',
	'a DAG task with exponential backoff ends failed after its retries');
is(sql(q{SELECT string_agg(attempt || ':' || status, ',' ORDER BY attempt) FROM pipeline.task_runs WHERE dag = 'backoff'}),
	'1:failed,2:failed,3:failed,4:failed', 'backoff: 4 attempts');
$gaps = sql(q{
SELECT string_agg(round(extract(epoch FROM started_at - prev_end), 2)::text, ',' ORDER BY attempt) FROM (
    SELECT attempt, started_at, lag(ended_at) OVER (ORDER BY attempt) AS prev_end
      FROM pipeline.task_runs WHERE dag = 'backoff') x WHERE prev_end IS NOT NULL});
note("backoff: gaps between attempts: $gaps s");
@g = split /,/, $gaps;
my @want = (1, 2, 4);
is(scalar(@g), 3, 'backoff: three gaps');
for my $i (0 .. 2)
{
	my $gap = $g[$i] // -1;
	ok($gap >= $want[$i] && $gap < $want[$i] + 1,
		"backoff: retry " . ($i + 1) . " starts $want[$i] s after the previous attempt (got $gap s)");
}

# ---- history: errors only, retention -----------------------------------------

wait_for_sql($node, 5, q{SELECT count(*) >= 3 FROM alice.ticks WHERE tag = 'quiet'}, 't',
	'history_errors_only: the job runs');
is(sql(q{SELECT count(*) FILTER (WHERE status = 'success') || '/' || (count(*) <= 1)
           FROM pipeline.dag_runs WHERE dag = 'quiet'}), '0/true',
	'history_errors_only: no successful run kept (at most the one running)');
is(sql(q{SELECT count(*) FROM pipeline.task_runs WHERE dag = 'quiet' AND status = 'success'}), '0',
	'history_errors_only: no successful task run kept');
sql_as($node, 'alice', q{SELECT pipeline.alter_job('quiet', command => 'SELECT 1/0')});
wait_for_sql($node, 5, q{SELECT count(*) > 0 FROM pipeline.dag_runs WHERE dag = 'quiet' AND status = 'failed'}, 't',
	'history_errors_only: a failed run is kept');
sql_as($node, 'alice', q{SELECT pipeline.disable('quiet')});
is(sql(q{SELECT count(*) FROM pipeline.task_runs
          WHERE dag = 'quiet' AND status = 'failed' AND error = 'division by zero'}) > 0 ? 'yes' : 'no',
	'yes', 'history_errors_only: with its error');

my $short_first;
ok(defined wait_until(5, sub {
	$short_first = sql(q{SELECT min(run_id) FROM pipeline.dag_runs WHERE dag = 'short' AND status = 'success'});
	$short_first ne '' }), 'history_retention: the job ran');
my $gone = wait_for_sql($node, 25, qq{SELECT NOT EXISTS (SELECT 1 FROM pipeline.dag_runs WHERE run_id = $short_first)}, 't');
ok(defined $gone, "history_retention '2 seconds': the first run is removed");
note(sprintf('retention removed the first run %.1f s after it was looked at', $gone // -1));
is(sql(qq{SELECT count(*) FROM pipeline.task_runs WHERE run_id = $short_first}), '0',
	'history_retention: with its task runs');
my ($kept, $oldest, $ran) = split /\|/, sql(q{
SELECT count(*), extract(epoch FROM clock_timestamp() - min(ended_at)),
       (SELECT count(*) FROM alice.ticks WHERE tag = 'short')
  FROM pipeline.dag_runs WHERE dag = 'short' AND status IN ('success', 'failed')});
note("history_retention: $kept runs kept of $ran, the oldest ended $oldest s ago");
cmp_ok($kept, '<', $ran - 3, 'history_retention: fewer runs kept than ran');
cmp_ok($oldest, '<', 2 + 10 + 2, 'history_retention: no kept run older than retention + the cleanup period');
sql_as($node, 'alice', q{SELECT pipeline.disable('short')});

# ---- NOTIFY ------------------------------------------------------------------

my @notes = map { $_->{payload} } $poll->();
my @failed = grep { ($_->{event} // '') eq 'task_failed' && ($_->{dag} // '') eq 'failjob' } @notes;
is(join(',', map { "$_->{attempt}:" . ($_->{will_retry} ? 'retry' : 'final') } @failed),
	'1:retry,2:retry,3:final', 'NOTIFY task_failed for each attempt, will_retry until the last');
my @keys_missing = grep { my $n = $_; grep { !exists $n->{$_} } qw(dag task run_id attempt will_retry sqlstate owner) } @failed;
is(scalar(@keys_missing), 0, 'task_failed payloads have dag, task, run_id, attempt, will_retry, sqlstate, owner');
is(join(',', map { "$_->{task}:$_->{sqlstate}:$_->{owner}" } @failed[0 .. 0]), 'failjob:22012:alice',
	'task_failed names the task, the error\'s SQLSTATE and the owner');
is(scalar(grep { exists $_->{error} } @notes), 0,
	'no payload carries error text (every role may listen; the error is in task_runs)');
my @fin = grep { ($_->{event} // '') eq 'dag_run_finished' } @notes;
my %fin_status = map { $_->{dag} => $_->{status} } grep { ($_->{run_type} // '') eq 'manual' } @fin;
is(join(',', map { "$_:" . ($fin_status{$_} // 'none') } qw(failjob backoff far multi multibad sleeper)),
	'failjob:failed,backoff:failed,far:success,multi:success,multibad:failed,sleeper:failed',
	'NOTIFY dag_run_finished with each run\'s status');
$listener->quit;

# ---- the cap: pg_pipeline.max_task_runs = 2 ---------------------------------------

wait_for_sql($node, 10, q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_pipeline runner'}, 't',
	'no runner left before the cap section');
$node->append_conf('postgresql.conf', "pg_pipeline.max_task_runs = 2\n");
$node->reload;
sql_as($node, 'alice', q{SELECT pipeline.schedule('cap' || i, '0 0 1 1 *', 'SELECT pg_sleep(1)') FROM generate_series(1, 5) i});
usleep(500_000);	# the coordinator reloads when the SIGHUP wakes it
my $t_cap = time();
sql_as($node, 'alice', q{SELECT pipeline.run_now('cap' || i) FROM generate_series(1, 5) i});
my $max_runners = 0;
my $done_cap = wait_until(15, sub {
	my $out = sql(q{
SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_pipeline runner') || ' ' ||
       (SELECT count(*) FROM pipeline.dag_runs WHERE dag LIKE 'cap%' AND run_type = 'manual' AND status = 'success')});
	my ($n, $done) = split / /, $out;
	$max_runners = $n if $n > $max_runners;
	return $done == 5;
});
ok(defined $done_cap, 'the cap: all 5 runs finish');
note(sprintf('the cap: 5 one-second tasks with 2 runners took %.1f s', time() - $t_cap));
cmp_ok($max_runners, '<=', 2, "the cap: at most 2 runners seen at once in pg_stat_activity (saw $max_runners)");
is(sql(q{
SELECT max(n) FROM (
    SELECT (SELECT count(*) FROM pipeline.task_runs o
             WHERE o.dag LIKE 'cap%' AND o.started_at <= s.started_at AND o.ended_at > s.started_at) AS n
      FROM pipeline.task_runs s WHERE s.dag LIKE 'cap%') x}), '2',
	'the cap: task_runs intervals overlap at most 2 at a time (and 2 did)');
cmp_ok(sql(q{SELECT extract(epoch FROM max(ended_at) - min(started_at)) FROM pipeline.task_runs WHERE dag LIKE 'cap%'}),
	'>=', 2.9, 'the cap: the 5 tasks took 3 waves');
is(sql(q{SELECT string_agg(status, ',') FROM (SELECT DISTINCT status FROM pipeline.task_runs WHERE dag LIKE 'cap%') x}),
	'success', 'the cap: every capped task succeeded');

unlike(slurp_file($node->logfile), qr/PANIC|TRAP|server process .* was terminated by signal/,
	'no crash in the server log');
$node->stop;
note(sprintf('total %.1f s', time() - $t_start));
done_testing();
