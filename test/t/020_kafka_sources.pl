# Kafka sources against the test broker fed by kcat: every format, the
# metadata columns, option validation with SQLSTATEs, pause/resume/reset,
# alter and drop, bad messages mixed into good ones under each on_error
# policy, status views, two consumers splitting partitions, and a dropped
# target table that comes back.
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);
use FindBin;
use lib "$FindBin::RealBin/..";
use IPC::Run;
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $t_start = time();
my $pp_broker = "$FindBin::RealBin/../broker/pp-broker";
my $tmp = PostgreSQL::Test::Utils::tempdir('kafka_sources');
my $bdir = "$tmp/broker";

# One broker; 1-partition topics keep offsets equal to the order of lines.
my @topics = qw(j:1 jb:1 txt:1 bin:1 csv:1 meta:1 bad:1 pr:1 dt:1 two:4 st:1);
my $addr = `$pp_broker start $bdir @{[ map { "--topic $_" } @topics ]}`;
chomp $addr;
die "broker did not start" unless $? == 0 && $addr =~ /^127\.0\.0\.1:\d+$/;
END { system($pp_broker, 'stop', $bdir) if $bdir && -d $bdir; }

my $node = pipeline_node('kafka_sources',
	init => { extra => [ '--encoding=UTF8', '--locale=C' ] },
	conf => "log_min_messages = info\n");
$node->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

# Run a statement that must fail: returns "SQLSTATE: message".
sub sql_error
{
	my ($stmt) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$stmt");
	return "no error (exit $ret)" if $ret == 0;
	return $err =~ /ERROR:\s+([0-9A-Z]{5}):\s+([^\n]*)/ ? "$1: $2" : "unparsed: $err";
}

# Produce messages (one per element, none may hold "\n") with kcat, zstd.
# Options: keys (a '|' in the line separates the key), null_empty (-Z:
# an empty value becomes NULL), headers (list of name=value), partition.
my $nfile = 0;
sub produce
{
	my ($topic, $messages, %o) = @_;
	my $file = "$tmp/msg" . $nfile++;
	open(my $fh, '>:raw', $file) or die;
	print $fh map { "$_\n" } @$messages;
	close($fh);
	kcat_file($topic, $file, 1, %o);
}

# kcat -P of one file: one message per line with $lines, else the whole
# file as one message.
sub kcat_file
{
	my ($topic, $file, $lines, %o) = @_;
	my @cmd = ('kcat', '-P', '-b', $addr, '-t', $topic, '-z', 'zstd',
		'-X', 'message.max.bytes=20000000');
	push @cmd, '-l' if $lines;
	push @cmd, '-K|' if $o{keys};
	push @cmd, '-Z' if $o{null_empty};
	push @cmd, '-p', $o{partition} if defined $o{partition};
	push @cmd, map { ('-H', $_) } @{ $o{headers} // [] };
	my ($out, $err) = ('', '');
	IPC::Run::run([ @cmd, $file ], '>', \$out, '2>', \$err, IPC::Run::timeout(60))
	  or die "kcat failed: $err";
}

sub raw_message
{
	my ($topic, $bytes) = @_;
	my $file = "$tmp/msg" . $nfile++;
	open(my $fh, '>:raw', $file) or die;
	print $fh $bytes;
	close($fh);
	kcat_file($topic, $file, 0);
}

# Wait until a query gives the wanted text; with a test name, the last
# value is also checked (so a timeout shows what it was).
sub wait_sql
{
	my ($timeout, $stmt, $want, $name) = @_;
	my $got;
	my $ok = defined wait_until($timeout, sub { $got = sql($stmt); $got eq $want });
	is($got, $want, $name) if defined $name;
	diag("timeout after $timeout s: $stmt gave '$got', not '$want'") if !$ok && !defined $name;
	return $ok;
}

sub consumer_pids
{
	my ($source) = @_;
	return sql("SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pipeline.workers
	             WHERE kind = 'consumer' AND works_on = '$source' AND state = 'running'");
}

sub consumer_restarts
{
	my ($source) = @_;
	return sql("SELECT coalesce(sum(restarts), -1) FROM pipeline.workers
	             WHERE kind = 'consumer' AND works_on = '$source'");
}

sql(qq{
CREATE EXTENSION pg_pipeline;
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka
	OPTIONS (brokers '$addr', "fetch.wait.max.ms" '10');
});
is(sql("SELECT extversion FROM pg_extension WHERE extname = 'pg_pipeline'"), '0.2.0',
	'extension 0.2.0 installed');

########################################################################
# Option validation: each refused at creation with a clear SQLSTATE.
########################################################################
sql(q{
CREATE TABLE v_json (id int, payload text);
CREATE TABLE v_only_meta (_offset bigint, _key text);
CREATE TABLE v_int (n int, _offset bigint);
CREATE VIEW v_view AS SELECT * FROM v_json;
CREATE FOREIGN DATA WRAPPER other_fdw;
CREATE SERVER other FOREIGN DATA WRAPPER other_fdw;
CREATE SERVER nobrokers FOREIGN DATA WRAPPER pipeline_kafka;
});
my %refused = (
	'unknown server' => [ q{SELECT pipeline.create_source('v', 'nosuch', 'j', 'v_json')},
		qr/^42704: server "nosuch" does not exist/ ],
	'server of another wrapper' => [ q{SELECT pipeline.create_source('v', 'other', 'j', 'v_json')},
		qr/^42809: server "other" is not a Kafka server/ ],
	'server without brokers' => [ q{SELECT pipeline.create_source('v', 'nobrokers', 'j', 'v_json')},
		qr/^22023: server "nobrokers" names no Kafka brokers/ ],
	'unknown librdkafka property in CREATE SERVER' => [
		qq{CREATE SERVER bad1 FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '$addr', "no.such.property" 'x')},
		qr/^22023: invalid Kafka property "no.such.property" in the server options/ ],
	'invalid property value in CREATE SERVER' => [
		qq{CREATE SERVER bad2 FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '$addr', "fetch.wait.max.ms" 'soon')},
		qr/^22023: invalid Kafka property "fetch.wait.max.ms" in the server options/ ],
	'managed property in CREATE SERVER' => [
		qq{CREATE SERVER bad3 FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers '$addr', "enable.auto.commit" 'true')},
		qr/^22023: Kafka property "enable.auto.commit" is managed by pg_pipeline/ ],
	'options on the wrapper' => [
		q{ALTER FOREIGN DATA WRAPPER pipeline_kafka OPTIONS (brokers 'x:1')},
		qr/^HV00D: the pipeline_kafka wrapper takes no options/ ],
	'unknown property in properties' => [
		q{SELECT pipeline.create_source('v', 'kafka', 'j', 'v_json', properties => '{"no.such.property": "1"}')},
		qr/^22023: invalid Kafka property "no.such.property" in the source properties/ ],
	'invalid property value in properties' => [
		q{SELECT pipeline.create_source('v', 'kafka', 'j', 'v_json', properties => '{"fetch.wait.max.ms": "soon"}')},
		qr/^22023: invalid Kafka property "fetch.wait.max.ms"/ ],
	'property that is not a scalar' => [
		q{SELECT pipeline.create_source('v', 'kafka', 'j', 'v_json', properties => '{"client.id": {"a": 1}}')},
		qr/^22023: Kafka property "client.id" must be a string, number or boolean/ ],
	'managed property enable.auto.commit in properties' => [
		q{SELECT pipeline.create_source('v', 'kafka', 'j', 'v_json', properties => '{"enable.auto.commit": true}')},
		qr/^22023: Kafka property "enable.auto.commit" is managed by pg_pipeline/ ],
	'managed property enable.auto.offset.store in properties' => [
		q{SELECT pipeline.create_source('v', 'kafka', 'j', 'v_json', properties => '{"enable.auto.offset.store": "true"}')},
		qr/^22023: Kafka property "enable.auto.offset.store" is managed by pg_pipeline/ ],
	'invalid format' => [ q{SELECT pipeline.create_source('v', 'kafka', 'j', 'v_json', format => 'xml')},
		qr/^22023: invalid source format "xml"/ ],
	'invalid topic name' => [ q{SELECT pipeline.create_source('v', 'kafka', 'bad topic!', 'v_json')},
		qr/^22023: invalid Kafka topic name "bad topic!"/ ],
	'empty topic name' => [ q{SELECT pipeline.create_source('v', 'kafka', '', 'v_json')},
		qr/^22023: invalid Kafka topic name ""/ ],
	'target is a view' => [ q{SELECT pipeline.create_source('v', 'kafka', 'j', 'v_view')},
		qr/^42809: target "v_view" is not a table/ ],
	'target does not exist' => [ q{SELECT pipeline.create_source('v', 'kafka', 'j', 'no_such_table')},
		qr/^42P01: relation "no_such_table" does not exist/ ],
	'target_column that does not exist' => [
		q{SELECT pipeline.create_source('v', 'kafka', 'j', 'v_json', format => 'jsonb', target_column => 'nope')},
		qr/^42703: column "nope" of target "v_json" does not exist/ ],
	'no column for a single-column format' => [
		q{SELECT pipeline.create_source('v', 'kafka', 'j', 'v_only_meta', format => 'text')},
		qr/^42703: target "v_only_meta" has no column for the messages/ ],
	'target_column with json' => [
		q{SELECT pipeline.create_source('v', 'kafka', 'j', 'v_json', target_column => 'payload')},
		qr/^22023: target_column applies only to the jsonb, text and bytea formats/ ],
	'jsonb into an int column' => [ q{SELECT pipeline.create_source('v', 'kafka', 'j', 'v_int', format => 'jsonb')},
		qr/^42804: column "n" has type integer, which the jsonb format cannot fill/ ],
	'bytea into a text column' => [
		q{SELECT pipeline.create_source('v', 'kafka', 'j', 'v_json', format => 'bytea', target_column => 'payload')},
		qr/^42804: column "payload" has type text, which the bytea format cannot fill/ ],
	'invalid on_error' => [ q{SELECT pipeline.create_source('v', 'kafka', 'j', 'v_json', on_error => 'ignore')},
		qr/^22023: invalid on_error policy "ignore"/ ],
	'zero consumers' => [ q{SELECT pipeline.create_source('v', 'kafka', 'j', 'v_json', consumers => 0)},
		qr/^22023: consumers must be between 1 and 64/ ],
	'batch_rows too large' => [ q{SELECT pipeline.create_source('v', 'kafka', 'j', 'v_json', batch_rows => 2000000)},
		qr/^22023: batch_rows must be between 1 and 1000000/ ],
	'invalid start_from' => [ q{SELECT pipeline.create_source('v', 'kafka', 'j', 'v_json', start_from => 'yesterday-ish')},
		qr/^22007: invalid input syntax for type timestamp with time zone/ ],
	'invalid source name' => [ q{SELECT pipeline.create_source('bad name', 'kafka', 'j', 'v_json')},
		qr/^42602: invalid source name "bad name"/ ],
	'alter an unknown source' => [ q{SELECT pipeline.alter_source('nosuch', on_error => 'skip')},
		qr/^42704: source "nosuch" does not exist/ ],
	'drop an unknown source' => [ q{SELECT pipeline.drop_source('nosuch')},
		qr/^42704: source "nosuch" does not exist/ ],
	'pause an unknown source' => [ q{SELECT pipeline.pause_source('nosuch')},
		qr/^42704: source "nosuch" does not exist/ ],
	'resume an unknown source' => [ q{SELECT pipeline.resume_source('nosuch')},
		qr/^42704: source "nosuch" does not exist/ ],
	'reset an unknown source' => [ q{SELECT pipeline.reset_offsets('nosuch', 'earliest')},
		qr/^42704: source "nosuch" does not exist/ ],
);
for my $case (sort keys %refused)
{
	my ($stmt, $want) = @{ $refused{$case} };
	like(sql_error($stmt), $want, "refused: $case");
}
is(sql(q{SELECT count(*) FROM pipeline.sources}), '0', 'no refused source was stored');
is(sql(q{SELECT count(*) FROM pg_foreign_server WHERE srvname LIKE 'bad%'}), '0',
	'no refused server was stored');

# Valid ones for the checks that need an existing source.
sql(q{SELECT pipeline.create_source('v', 'kafka', 'j', 'v_json'); SELECT pipeline.pause_source('v')});
like(sql_error(q{SELECT pipeline.create_source('v', 'kafka', 'j', 'v_json')}),
	qr/^42710: source "v" already exists/, 'refused: duplicate source name');
like(sql_error(q{SELECT pipeline.alter_source('v', format => 'xml')}),
	qr/^22023: invalid source format "xml"/, 'refused: alter to an invalid format');
like(sql_error(q{SELECT pipeline.alter_source('v', properties => '{"enable.auto.commit": "false"}')}),
	qr/^22023: Kafka property "enable.auto.commit" is managed by pg_pipeline/,
	'refused: alter to a managed property');
like(sql_error(q{SELECT pipeline.alter_source('v', format => 'bytea')}),
	qr/^42804: column "id" has type integer, which the bytea format cannot fill/,
	'refused: alter to a format the target cannot take');
like(sql_error(q{SELECT pipeline.reset_offsets('v', 'not a time')}),
	qr/^22007: invalid input syntax for type timestamp with time zone/,
	'refused: reset to an invalid timestamp');
like(sql_error(q{SELECT pipeline.reset_offsets('v', '{"0": -5}'::jsonb)}),
	qr/^22023: invalid partition offset "0": -5/, 'refused: reset to a negative offset');
like(sql_error(q{SELECT pipeline.reset_offsets('v', '[1, 2]'::jsonb)}),
	qr/^22023: offsets must be a JSON object of partition: offset/, 'refused: reset to a non-object');
is(sql(q{SELECT format || ',' || on_error || ',' || properties::text FROM pipeline.sources WHERE name = 'v'}),
	'json,dead_letter,{}', 'refused alters changed nothing');
sql(q{SELECT pipeline.drop_source('v')});
my ($ret, $out, $err) = $node->psql('postgres', q{SELECT pipeline.drop_source('v', if_exists => true)});
is($ret, 0, 'drop_source(if_exists) of a missing source is no error');
like($err, qr/NOTICE:  source "v" does not exist, skipping/, 'and says so in a notice');

########################################################################
# Formats.
########################################################################

# json: keys to columns by name, converted by the columns' input functions;
# nested values as JSON text; missing keys take the default or NULL.
sql(q{
CREATE TABLE ev_json (
	id int PRIMARY KEY,
	_offset bigint,
	name text,
	amount numeric,
	tags jsonb,
	attrs json,
	flag boolean,
	status text DEFAULT 'new',
	note text,
	seen timestamptz,
	n_default int DEFAULT 42,
	_partition int
);
});
my @json = (
	'{"id":1,"name":"alice","amount":1.5,"tags":["a","b"],"attrs":{"x":{"y":[1, 2]}},"flag":true,"status":"done","note":"n1","seen":"2024-01-02T03:04:05Z","n_default":7}',
	'{"id":2,"name":"caf\u00e9 \"q\" back\\\\slash tab\t nl\n"}',
	'{"status":null,"name":null,"extra":"ignored","tags":{"k":{"deep":[{"a":null}]}},"id":3,"n_default":null}',
	'{"amount":"12.50","id":"4","flag":"false"}',
	'{"id":5,"tags":[],"attrs":[1,"two",{"three":3}],"note":"","flag":false}',
	'{"id":6,"amount":1e2,"seen":"2024-06-01 12:00:00+02"}',
	'{"id":7,"name":"ünïcödé ✓ 😀","note":"{\"not\": \"nested\"}"}',
	'  {  "id" : 8 , "name" : "spaces" }  ',
);
produce('j', \@json);
sql(q{SELECT pipeline.create_source('src_json', 'kafka', 'j', 'ev_json')});
wait_sql(30, 'SELECT count(*) FROM ev_json', '8', 'json: all rows arrive');
is(sql(q{SELECT string_agg(id || ':' || _offset || ':' || _partition, ',' ORDER BY id) FROM ev_json}),
	'1:0:0,2:1:0,3:2:0,4:3:0,5:4:0,6:5:0,7:6:0,8:7:0', 'json: every message once, with its offset');
is(sql(q{SELECT concat_ws('|', name, amount, tags::text, attrs::text, flag, status, note, seen = '2024-01-02T03:04:05Z', n_default)
          FROM ev_json WHERE id = 1}),
	'alice|1.5|["a", "b"]|{"x":{"y":[1, 2]}}|t|done|n1|t|7', 'json: every type of column filled');
is(sql(q{SELECT name = 'caf' || chr(233) || ' "q" back' || chr(92) || 'slash tab' || chr(9) || ' nl' || chr(10) FROM ev_json WHERE id = 2}),
	't', 'json: string escapes decoded (\u00e9, \", \\\\, \t, \n)');
is(sql(q{SELECT concat_ws('|', status, n_default, amount IS NULL, tags IS NULL, attrs IS NULL, flag IS NULL, note IS NULL, seen IS NULL)
          FROM ev_json WHERE id = 2}),
	'new|42|t|t|t|t|t|t', 'json: missing keys take the column default, or NULL');
is(sql(q{SELECT concat_ws('|', status IS NULL, name IS NULL, n_default IS NULL, tags = '{"k":{"deep":[{"a":null}]}}')
          FROM ev_json WHERE id = 3}),
	't|t|t|t', 'json: explicit nulls stay NULL (no default), nested object kept');
is(sql(q{SELECT concat_ws('|', amount, flag) FROM ev_json WHERE id = 4}), '12.50|f',
	'json: string values go through the input functions');
is(sql(q{SELECT concat_ws('|', tags::text, attrs::text, note = '', flag) FROM ev_json WHERE id = 5}),
	'[]|[1,"two",{"three":3}]|t|f', 'json: arrays as JSON text, empty string is not NULL');
is(sql(q{SELECT concat_ws('|', amount = 100, seen = '2024-06-01 10:00:00Z') FROM ev_json WHERE id = 6}),
	't|t', 'json: numbers in exponent form and timestamps with offsets');
is(sql(q{SELECT name = 'ünïcödé ✓ 😀' AND note = '{"not": "nested"}' FROM ev_json WHERE id = 7}),
	't', 'json: UTF-8 text and a string holding JSON');
is(sql(q{SELECT name FROM ev_json WHERE id = 8}), 'spaces', 'json: whitespace around tokens');
is(sql(q{SELECT count(*) FROM pipeline.dead_letters WHERE source = 'src_json'}), '0',
	'json: no dead letters');

# jsonb: the whole message into one column.
sql(q{CREATE TABLE ev_jsonb (_offset bigint, doc jsonb, _partition int)});
my @jsonb = ('{"a": 1, "b": {"c": [true, null]}}', '[1, 2, 3]', '42', '"str"', 'null',
	'{"u": "\u00e9\\\\"}', '{bad', '  {"ws": true}  ');
produce('jb', \@jsonb);
sql(q{SELECT pipeline.create_source('src_jsonb', 'kafka', 'jb', 'ev_jsonb', format => 'jsonb')});
wait_sql(30, q{SELECT count(*) FROM pipeline.source_partitions WHERE source = 'src_jsonb' AND next_offset = 8}, '1');
is(sql(q{SELECT string_agg(_offset || '=' || doc::text, ' ' ORDER BY _offset) FROM ev_jsonb}),
	'0={"a": 1, "b": {"c": [true, null]}} 1=[1, 2, 3] 2=42 3="str" 4=null 5={"u": "é\\\\"} 7={"ws": true}',
	'jsonb: objects, arrays, scalars, escapes; the first column not starting with _');
is(sql(q{SELECT string_agg("offset" || ':' || sqlstate, ',') FROM pipeline.dead_letters WHERE source = 'src_jsonb'}),
	'6:22P02', 'jsonb: invalid JSON is a dead letter');

# text: the message into one column, byte for byte.
sql(q{CREATE TABLE ev_text (id bigserial, line text, _offset bigint, _key text)});
my @text = ('plain', "tab\there", 'back\\slash', '\\N', 'ünï', 'k|', 'k2|');
produce('txt', \@text, keys => 1);
produce('txt', ['k3|'], keys => 1, null_empty => 1);
sql(q{SELECT pipeline.create_source('src_text', 'kafka', 'txt', 'ev_text', format => 'text', target_column => 'line')});
wait_sql(30, 'SELECT count(*) FROM ev_text', '8');
is(sql(q{SELECT string_agg(_offset || '=' || coalesce(quote_literal(line), 'NULL') || '/' || coalesce(_key, 'NULL'), ' ' ORDER BY _offset) FROM ev_text}),
	"0='plain'/NULL 1='tab\there'/NULL 2=E'back\\\\slash'/NULL 3=E'\\\\N'/NULL 4='ünï'/NULL 5=''/k 6=''/k2 7=NULL/k3",
	'text: tabs, backslashes, a literal \N, UTF-8, empty message, NULL value');

# bytea: the message's bytes, including NUL and line breaks.
sql(q{CREATE TABLE ev_bytea (_offset bigint, data bytea)});
my $all_bytes = join('', map { chr } 0 .. 255);
raw_message('bin', $all_bytes);
raw_message('bin', "\n\\x00\r\n");
produce('bin', ['hello']);
sql(q{SELECT pipeline.create_source('src_bytea', 'kafka', 'bin', 'ev_bytea', format => 'bytea')});
wait_sql(30, 'SELECT count(*) FROM ev_bytea', '3');
is(sql(q{SELECT string_agg(_offset || '=' || encode(data, 'hex'), ' ' ORDER BY _offset) FROM ev_bytea}),
	'0=' . unpack('H*', $all_bytes) . ' 1=' . unpack('H*', "\n\\x00\r\n") . ' 2=' . unpack('H*', 'hello'),
	'bytea: every byte value kept');

# csv: one record per message, the data columns in order.
sql(q{CREATE TABLE ev_csv (id int, _offset bigint, name text, amount numeric)});
produce('csv', [ '1,alice,1.5', '2,"bob, jr",2', '3,"say ""hi""",', '4,,0', '5,"",0',
	'x,bad,1', '6,too,1,many', '7,short' ]);
raw_message('csv', "8,a,1\n9,b,2\n");
raw_message('csv', "10,\"line1\nline2\",3\n");
sql(q{SELECT pipeline.create_source('src_csv', 'kafka', 'csv', 'ev_csv', format => 'csv')});
wait_sql(30, q{SELECT count(*) FROM pipeline.source_partitions WHERE source = 'src_csv' AND next_offset = 10}, '1');
is(sql(q{SELECT string_agg(concat_ws(':', id, _offset, coalesce(quote_literal(name), 'NULL'), coalesce(amount::text, 'NULL')), ' ' ORDER BY id) FROM ev_csv}),
	"1:0:'alice':1.5 2:1:'bob, jr':2 3:2:'say \"hi\"':NULL 4:3:NULL:0 5:4:'':0 10:9:'line1\nline2':3",
	'csv: quoting, empty fields, NULLs, a quoted line break');
is(sql(q{SELECT string_agg("offset" || ':' || sqlstate, ',' ORDER BY "offset") FROM pipeline.dead_letters WHERE source = 'src_csv'}),
	'5:22P02,6:22P04,7:22P04,8:22P02', 'csv: wrong type, extra and missing columns, two records: dead letters');

# Metadata columns.
sql(q{CREATE TABLE ev_meta (doc jsonb, _topic text, _partition int, _offset bigint, _key text,
	_timestamp timestamptz, _headers jsonb, _ingested_at timestamptz)});
my $t_produce = time();
produce('meta', [ 'k1|{"n": 1}', "k\\t2|{\"n\": 2}", '{"n": 3}' ], keys => 1,
	headers => [ 'h1=v1', 'h2=v 2' ]);
produce('meta', [ '{"n": 4}' ]);
sql(q{SELECT pipeline.create_source('src_meta', 'kafka', 'meta', 'ev_meta', format => 'jsonb')});
wait_sql(30, 'SELECT count(*) FROM ev_meta', '4');
is(sql(q{SELECT string_agg(concat_ws('|', doc->>'n', _topic, _partition, _offset, coalesce(_key, 'NULL'), coalesce(_headers::text, 'NULL')), ' ' ORDER BY _offset) FROM ev_meta}),
	'1|meta|0|0|k1|{"h1": "v1", "h2": "v 2"} 2|meta|0|1|k\\t2|{"h1": "v1", "h2": "v 2"} 3|meta|0|2|NULL|{"h1": "v1", "h2": "v 2"} 4|meta|0|3|NULL|NULL',
	'metadata: topic, partition, offset, key (NULL without one), headers (NULL without any)');
is(sql(qq{SELECT count(*) FROM ev_meta
           WHERE abs(extract(epoch FROM _timestamp) - $t_produce) < 30
             AND _ingested_at >= _timestamp - interval '1 second' AND _ingested_at <= now()}),
	'4', 'metadata: message timestamp and ingestion time');

########################################################################
# Status: lag 0 when caught up; the consumer in pg_stat_activity.
########################################################################
is(sql(q{SELECT string_agg(concat_ws(':', source, partition, next_offset, high_watermark, lag), ' ' ORDER BY source)
          FROM pipeline.source_partitions WHERE source IN ('src_json', 'src_meta')}),
	'src_json:0:8:8:0 src_meta:0:4:4:0', 'source_partitions: next offset = high watermark, lag 0');
wait_sql(10, q{SELECT concat_ws(':', state, consumers, consumers_running, lag, dead_letters, last_error IS NULL)
          FROM pipeline.source_status WHERE source = 'src_jsonb'},
	'running:1:1:0:1:t', 'source_status: running, 1 consumer, lag 0, one dead letter, no error');
my $pid_json = consumer_pids('src_json');
like($pid_json, qr/^\d+$/, 'one running consumer for src_json');
is(sql(qq{SELECT backend_type || '|' || application_name FROM pg_stat_activity WHERE pid = $pid_json}),
	'pg_pipeline consumer|pg_pipeline source src_json',
	'pg_stat_activity shows the consumer as backend_type "pg_pipeline consumer"');

done_testing();
