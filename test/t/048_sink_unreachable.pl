# A sink that cannot publish says so (issue 11's lifecycle bugs): on 0.5.0
# pipeline.sink_status showed "running" and a last_publish_at while the
# broker was unreachable and nothing could be published; sources said
# "error" in the same case.  Now a sink says "error" with the broker's
# reason in last_error, and last_publish_at moves only when a delivery
# report confirms a message.
#
#   (a) a sink whose server points where no broker listens
#   (b) a sink whose broker goes down while a message waits, then comes back
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $tmp = PostgreSQL::Test::Utils::tempdir('sink_unreachable');
my $bdir = "$tmp/broker";
my $addr = start_broker($bdir, qw(up:1));

my $node = pipeline_node('sink_unreachable');
$node->start;
sub sql { return $node->safe_psql('postgres', $_[0]); }

sql(qq{
CREATE EXTENSION pg_pipeline;
CREATE SERVER nowhere FOREIGN DATA WRAPPER pipeline_kafka
	OPTIONS (brokers '127.0.0.1:1', "message.timeout.ms" '600000');
CREATE SERVER kafka FOREIGN DATA WRAPPER pipeline_kafka
	OPTIONS (brokers '$addr', "message.timeout.ms" '600000');
});

# ---- (a) no broker at all ---------------------------------------------------

sql(q{SELECT pipeline.create_sink('lost', server => 'nowhere', topic => 'lost')});
sql(q{SELECT pipeline.publish('lost', 'never')});
wait_for_sql($node, 30,
	q{SELECT state FROM pipeline.sink_status WHERE sink = 'lost'},
	'error', '(a) a sink with no reachable broker says error');
like(sql(q{SELECT last_error FROM pipeline.sink_status WHERE sink = 'lost'}),
	qr/Kafka|broker|metadata/i, '(a) and why, in last_error');
is(sql(q{SELECT coalesce(last_publish_at::text, 'null') || ':' || published || ':' || waiting
		   FROM pipeline.sink_status WHERE sink = 'lost'}),
	'null:0:1', '(a) no last_publish_at: nothing was published');

# ---- (b) the broker goes down, and up again --------------------------------

sql(q{SELECT pipeline.create_sink('s', server => 'kafka', topic => 'up')});
sql(q{SELECT pipeline.publish('s', 'first')});
wait_for_sql($node, 30,
	q{SELECT state || ':' || published || ':' || waiting || ':' || (last_publish_at IS NOT NULL)
	    FROM pipeline.sink_status WHERE sink = 's'},
	'running:1:0:true', '(b) published while the broker is up');
my $first_publish = sql(q{SELECT last_publish_at FROM pipeline.sink_status WHERE sink = 's'});

system(broker_program(), 'cmd', $bdir, 'down', 'all') == 0 or die 'could not take the broker down';
sql(q{SELECT pipeline.publish('s', 'second')});
wait_for_sql($node, 60,
	q{SELECT state FROM pipeline.sink_status WHERE sink = 's'},
	'error', '(b) the broker down: the sink says error');
isnt(sql(q{SELECT coalesce(last_error, '') FROM pipeline.sink_status WHERE sink = 's'}),
	'', '(b) with a last_error');
is(sql(qq{SELECT published || ':' || waiting || ':' || (last_publish_at = '$first_publish')
		   FROM pipeline.sink_status WHERE sink = 's'}),
	'1:1:true', '(b) nothing counted as published, last_publish_at unchanged');

system(broker_program(), 'cmd', $bdir, 'up', 'all') == 0 or die 'could not bring the broker up';
wait_for_sql($node, 60,
	qq{SELECT state || ':' || published || ':' || waiting || ':' || (last_publish_at > '$first_publish')
	    FROM pipeline.sink_status WHERE sink = 's'},
	'running:2:0:true', '(b) the broker back: published, running again');

done_testing();
