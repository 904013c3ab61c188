# The launcher and the per-database coordinators: start on CREATE EXTENSION,
# stop on DROP EXTENSION, restart with backoff, survive kill -9 and server
# restarts, get out of the way of DROP DATABASE, obey the GUCs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = pipeline_node('lifecycle', conf => 'restart_after_crash = on');
$node->start;

sub workers
{
	my ($db) = @_;
	return $node->safe_psql($db,
		"SELECT kind || ':' || state || ':' || restarts FROM pipeline.workers ORDER BY kind");
}

# The launcher runs from the start, connected to no database; no extension
# anywhere, so no coordinator.
ok(defined wait_until(10, sub {
	$node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity
		  WHERE backend_type = 'pg_pipeline launcher' AND datname IS NULL") eq '1' }),
	'launcher runs, connected to no database');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_pipeline coordinator'"),
	'0', 'no coordinator without the extension');

# CREATE EXTENSION: a coordinator within 2 seconds of the commit.
$node->safe_psql('postgres', 'CREATE DATABASE d1');
$node->safe_psql('postgres', 'CREATE DATABASE d2');
# (measured from before the statement, so it includes CREATE EXTENSION
# itself: an upper bound)
my $committed = $node->safe_psql('d1',
	"SELECT extract(epoch FROM clock_timestamp()); CREATE EXTENSION pg_pipeline");
ok(defined wait_until(10, sub { coordinator_pid($node, 'd1') ne '' }),
	'coordinator started in d1');
my $started = $node->safe_psql('postgres',
	"SELECT extract(epoch FROM backend_start) FROM pg_stat_activity
	  WHERE backend_type = 'pg_pipeline coordinator' AND datname = 'd1'");
my $latency_ms = ($started - $committed) * 1000;
note(sprintf('coordinator start latency after CREATE EXTENSION: %.1f ms', $latency_ms));
cmp_ok($latency_ms, '<', 2000, 'coordinator starts within 2 s of CREATE EXTENSION');
like(slurp_file($node->logfile), qr/pg_pipeline coordinator started for database "d1"/,
	'coordinator logs its start');

$node->safe_psql('d2', 'CREATE EXTENSION pg_pipeline');
ok(defined wait_until(10, sub { coordinator_pid($node, 'd2') ne '' }),
	'coordinator started in d2');
is(workers('d1'), "coordinator:running:0\nlauncher:running:0",
	'pipeline.workers shows this database\'s coordinator and the launcher');

# SIGTERM: restarted after pg_pipeline.restart_delay (200 ms), then after
# twice that; restarts and last error visible meanwhile.
my $old = coordinator_pid($node, 'd1');
my $t0 = time();
$node->safe_psql('postgres', "SELECT pg_terminate_backend($old)");
ok(defined wait_until(10, sub { my $p = coordinator_pid($node, 'd1'); $p ne '' && $p ne $old }),
	'coordinator restarted after SIGTERM');
my $first_delay = time() - $t0;
cmp_ok($first_delay, '>=', 0.2, 'first restart waited restart_delay');
is($node->safe_psql('d1',
	"SELECT restarts || ':' || (last_error LIKE 'terminating background worker%') FROM pipeline.workers WHERE kind = 'coordinator'"),
	'1:true', 'restart counted and last error kept');

$old = coordinator_pid($node, 'd1');
$t0 = time();
$node->safe_psql('postgres', "SELECT pg_terminate_backend($old)");
ok(defined wait_until(10, sub { my $p = coordinator_pid($node, 'd1'); $p ne '' && $p ne $old }),
	'coordinator restarted after a second SIGTERM');
cmp_ok(time() - $t0, '>=', 0.4, 'second consecutive failure waits twice as long');
is($node->safe_psql('d1', "SELECT restarts FROM pipeline.workers WHERE kind = 'coordinator'"),
	'2', 'second restart counted');

# kill -9: the postmaster restarts everything; both coordinators come back
# and committed data survives.
$node->safe_psql('d1', 'CREATE TABLE kept AS SELECT 42 AS answer');
$old = coordinator_pid($node, 'd1');
kill 'KILL', $old;
ok(defined wait_until(60, sub {
	my $p1 = eval { coordinator_pid($node, 'd1') } // '';
	my $p2 = eval { coordinator_pid($node, 'd2') } // '';
	$p1 ne '' && $p1 ne $old && $p2 ne '' }),
	'both coordinators back after kill -9');
is($node->safe_psql('d1', 'SELECT answer FROM kept'), '42', 'data survived the crash restart');

# A server restart brings every coordinator back.
$node->restart;
ok(defined wait_until(30, sub {
	coordinator_pid($node, 'd1') ne '' && coordinator_pid($node, 'd2') ne '' }),
	'both coordinators back after a restart');

# pg_pipeline.enabled = off stops them, on brings them back.
$node->safe_psql('postgres', 'ALTER SYSTEM SET pg_pipeline.enabled = off');
$node->reload;
ok(defined wait_until(10, sub {
	$node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_pipeline coordinator'") eq '0' }),
	'pg_pipeline.enabled = off stops the coordinators');
$node->safe_psql('postgres', 'ALTER SYSTEM SET pg_pipeline.enabled = on');
$node->safe_psql('postgres', "ALTER SYSTEM SET pg_pipeline.databases = 'd2'");
$node->reload;
ok(defined wait_until(10, sub { coordinator_pid($node, 'd2') ne '' }),
	'enabled again: coordinator of an allowed database back');
is(coordinator_pid($node, 'd1'), '', 'pg_pipeline.databases keeps d1 without coordinator');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET pg_pipeline.databases');
$node->reload;
ok(defined wait_until(10, sub { coordinator_pid($node, 'd1') ne '' }),
	'd1 allowed again: its coordinator is back');

# DROP EXTENSION stops the coordinator, which is not restarted.
$node->safe_psql('d2', 'DROP EXTENSION pg_pipeline');
ok(defined wait_until(10, sub { coordinator_pid($node, 'd2') eq '' }),
	'DROP EXTENSION stops the coordinator');
sleep 1;
is(coordinator_pid($node, 'd2'), '', 'and it stays stopped');

# ALTER DATABASE ... RENAME needs the database to itself: it works at once
# and the coordinator comes back under the new name.
$node->safe_psql('d2', 'CREATE EXTENSION pg_pipeline');
ok(defined wait_until(10, sub { coordinator_pid($node, 'd2') ne '' }), 'd2 has a coordinator again');
my ($ret, $out, $err) = $node->psql('postgres', 'ALTER DATABASE d2 RENAME TO d3');
is($ret, 0, 'ALTER DATABASE RENAME works with a coordinator running') or diag($err);
ok(defined wait_until(10, sub { coordinator_pid($node, 'd3') ne '' }),
	'coordinator back in the renamed database');

# CREATE DATABASE ... TEMPLATE a database with a running coordinator: the
# template is paused for the copy, and the copy gets a coordinator too.
($ret, $out, $err) = $node->psql('postgres', 'CREATE DATABASE d4 TEMPLATE d3');
is($ret, 0, 'CREATE DATABASE from a template with a running coordinator works') or diag($err);
ok(defined wait_until(10, sub { coordinator_pid($node, 'd4') ne '' && coordinator_pid($node, 'd3') ne '' }),
	'the copy and the template both run a coordinator');
$node->safe_psql('postgres', 'DROP DATABASE d4');

# A prepared CREATE EXTENSION starts the coordinator at COMMIT PREPARED.
$node->safe_psql('postgres', 'ALTER SYSTEM SET max_prepared_transactions = 2');
$node->restart;
$node->safe_psql('postgres', 'CREATE DATABASE d5');
$node->safe_psql('d5', "BEGIN; CREATE EXTENSION pg_pipeline; PREPARE TRANSACTION 'ext'");
sleep 1;
is(coordinator_pid($node, 'd5'), '', 'no coordinator while CREATE EXTENSION is only prepared');
$node->safe_psql('d5', "COMMIT PREPARED 'ext'");
ok(defined wait_until(10, sub { coordinator_pid($node, 'd5') ne '' }),
	'COMMIT PREPARED starts the coordinator');
$node->safe_psql('postgres', 'DROP DATABASE d5');

# DROP DATABASE works at once, without FORCE or a manual step.
$t0 = time();
($ret, $out, $err) = $node->psql('postgres', 'DROP DATABASE d1');
is($ret, 0, 'DROP DATABASE of a database with a running coordinator works') or diag($err);
cmp_ok(time() - $t0, '<', 5, 'DROP DATABASE did not wait for a timeout');
is($node->safe_psql('postgres',
	"SELECT string_agg(backend_type || ':' || coalesce(datname, '-'), ',' ORDER BY backend_type)
	   FROM pg_stat_activity WHERE backend_type LIKE 'pg_pipeline%'"),
	'pg_pipeline coordinator:d3,pg_pipeline launcher:-',
	'only the launcher and the coordinator of d3 remain');

# Nothing in the log says a worker crashed.
unlike(slurp_file($node->logfile), qr/terminated by signal (?!9)|exited with exit code [^01]/,
	'no worker crashed except the one we killed');

$node->stop;
done_testing();
