# Gating in model runner workers (pipeline.start_build) with a concurrent
# reader: a build whose new version fails an error-severity expectation is
# never seen by anyone -- the reader sees the previous version or a good
# new one, never the bad rows -- the model's run is an error (23514), the
# model downstream is skipped, and the results of every build (good and
# undone) are kept with the invocation and the failing keys.
#
# The reader is a procedure in its own session that counts the model's
# rows and its duplicate keys in a loop, one transaction per count; the test
# session alternates good and bad sources and builds through start_build.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = pipeline_node('quality_gate');
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

sub wait_done
{
	my ($id) = @_;
	return wait_until(90, sub {
		sql("SELECT status FROM pipeline.model_invocations WHERE invocation_id = $id") ne 'running' });
}

my ($good, $bad) = (50_000, 60_000);
sql(qq{
CREATE EXTENSION pg_pipeline;
CREATE ROLE gater LOGIN;
CREATE SCHEMA marts AUTHORIZATION gater;
SET ROLE gater;
CREATE TABLE marts.size (n int, dup boolean);
INSERT INTO marts.size VALUES ($good, false);
SELECT pipeline.create_model('marts.fact',
    'SELECT g AS id, md5(g::text) AS pad FROM generate_series(1, (SELECT n FROM marts.size)) g
     UNION ALL SELECT 1, ''dup'' WHERE (SELECT dup FROM marts.size)',
    materialized => 'table');
});
is(sql(q{SET ROLE gater; SELECT status || ':' || rows FROM pipeline.build('marts.fact')}), "success:$good",
	'first build');
sql(q{
SET ROLE gater;
SELECT pipeline.create_model('marts.fact_count', 'SELECT count(*) AS n FROM marts.fact', materialized => 'table');
SELECT pipeline.expect('marts.fact', 'id', 'unique');
CREATE TABLE marts.seen (n bigint, dups bigint, read_at timestamptz);
CREATE TABLE marts.reader_stop (stop boolean);
INSERT INTO marts.reader_stop VALUES (false);
CREATE PROCEDURE marts.read_until_stopped()
LANGUAGE plpgsql AS $$
DECLARE
    a bigint;
    d bigint;
BEGIN
    LOOP
        SELECT count(*), count(*) - count(DISTINCT id) INTO a, d FROM marts.fact;
        INSERT INTO marts.seen VALUES (a, d, clock_timestamp());
        COMMIT;
        EXIT WHEN (SELECT stop FROM marts.reader_stop);
    END LOOP;
END
$$;
});

my ($out, $err) = ('', '');
my $reader = IPC::Run::start(
	[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-U', 'gater',
	  '-c', 'CALL marts.read_until_stopped()' ],
	'>', \$out, '2>', \$err);
ok(defined wait_until(30, sub { sql('SELECT count(*) FROM marts.seen') > 0 }), 'the reader reads');

my (@good_ids, @bad_ids);
for my $i (1 .. 4)
{
	my $is_bad = $i % 2;
	sql(sprintf('UPDATE marts.size SET n = %d, dup = %s', $is_bad ? $bad : $good + $i, $is_bad ? 'true' : 'false'));
	my $id = sql(q{SET ROLE gater; SELECT pipeline.start_build('marts.fact+', workers => 1)});
	ok(wait_done($id), "build $i ended");
	if ($is_bad)
	{
		push @bad_ids, $id;
		is(sql(qq{SELECT string_agg(model || ':' || status || ':' || coalesce(sqlstate, ''), ' ' ORDER BY position)
		            FROM pipeline.model_runs WHERE invocation_id = $id}),
			'marts.fact:error:23514 marts.fact_count:skipped:', "bad build $i: the gate failed it, downstream skipped");
		is(sql('SELECT count(*) FROM marts.fact'), $good + $i - 1, "bad build $i: the previous version is still there");
	}
	else
	{
		push @good_ids, $id;
		is(sql(qq{SELECT string_agg(model || ':' || status, ' ' ORDER BY position)
		            FROM pipeline.model_runs WHERE invocation_id = $id}),
			'marts.fact:success marts.fact_count:success', "good build $i published");
		is(sql('SELECT n FROM marts.fact_count'), $good + $i, "good build $i: downstream read the new version");
	}
}
sql('UPDATE marts.reader_stop SET stop = true');
$reader->finish;
is($? >> 8, 0, 'the reader ended without an error') or diag($err);

is(sql('SELECT count(*) FROM marts.seen WHERE dups > 0 OR n = ' . ($bad + 1)), '0',
	'the reader never saw a version that failed its checks');
my $reads = sql('SELECT count(*) FROM marts.seen');
my $during = sql(q{SELECT count(*) FROM marts.seen s
                     JOIN pipeline.model_runs r ON s.read_at > r.started_at AND s.read_at < r.ended_at
                    WHERE r.model = 'marts.fact'});
note("$reads reads, $during of them while a build of marts.fact was running");
cmp_ok($during, '>', 0, 'reads ended while builds were running');

my $bad_list = join(',', @bad_ids);
my $all_list = join(',', @good_ids, @bad_ids);
is(sql(qq{SELECT string_agg(status || ':' || failing, ' ' ORDER BY model_invocation_id)
            FROM pipeline.check_results WHERE model_invocation_id IN ($all_list)}),
	'fail:2 pass:0 fail:2 pass:0', 'every build\'s results kept with its invocation, the undone ones too');
is(sql(qq{SELECT count(*) || ':' || bool_and(f.key = '{"id": 1}')
            FROM pipeline.check_failures f JOIN pipeline.check_results r USING (result_id)
           WHERE r.model_invocation_id IN ($bad_list)}),
	'4:true', 'the failing keys of the undone builds are kept');
is(sql(q{SELECT owner FROM pipeline.check_results LIMIT 1}), 'gater', 'the results belong to the expectation\'s owner');

# A scheduler job that checks a table with fail_on_error fails (23514, the
# expectation named) when an error-severity expectation fails, and succeeds
# with only a warning: a DAG task fails and retries the same way.
sql(q{
SET ROLE gater;
CREATE TABLE marts.payments (id int, amount numeric);
INSERT INTO marts.payments VALUES (1, 10), (2, -5);
SELECT pipeline.expect('marts.payments', 'amount', 'between', '{"min": 0}');
SELECT pipeline.schedule('check_payments', '@daily',
    $$SELECT * FROM pipeline.check('marts.payments', fail_on_error => true)$$);
SELECT pipeline.run_now('check_payments');
});
sub job_outcome
{
	my $out;
	wait_until(60, sub {
		$out = sql(q{SELECT r.status || ':' || coalesce(r.sqlstate, '') || ':' || coalesce(r.error, '')
		               FROM pipeline.task_runs r
		              WHERE r.dag = 'check_payments' AND r.status IN ('success', 'failed')
		              ORDER BY r.task_run_id DESC LIMIT 1});
		$out ne '' });
	return $out;
}
is(job_outcome(), 'failed:23514:1 expectation of marts.payments failed: between_amount',
	'a job checking a table with fail_on_error fails on an error-severity failure');
sql(q{SET ROLE gater;
      SELECT pipeline.alter_expectation('marts.payments', 'between_amount', severity => 'warn');
      SELECT pipeline.run_now('check_payments');});
wait_until(60, sub { sql(q{SELECT count(*) FROM pipeline.task_runs r
                            WHERE r.dag = 'check_payments' AND r.status IN ('success', 'failed')}) == 2 });
like(job_outcome(), qr/^success::/, 'with only a warning the job succeeds');
is(sql(q{SELECT status FROM pipeline.check_status WHERE expectation = 'between_amount'}), 'warn',
	'and the warning is recorded');

$node->stop;
done_testing();
