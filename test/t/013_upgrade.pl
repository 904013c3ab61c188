# Upgrade path: for every older version the extension can be installed at,
# CREATE EXTENSION ... VERSION old; ALTER EXTENSION UPDATE must end with the
# same objects, definitions and version as a fresh install.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = pipeline_node('upgrade');
$node->start;

# Everything a user could see of the extension, in a stable order.
my $describe = q{
	SELECT kind || ' ' || what FROM (
	  SELECT 'member' AS kind, pg_describe_object(classid, objid, objsubid) AS what
	    FROM pg_depend
	   WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_pipeline')
	     AND deptype = 'e'
	  UNION ALL
	  SELECT 'function', pg_get_functiondef(p.oid) || coalesce(obj_description(p.oid, 'pg_proc'), '')
	    FROM pg_proc p WHERE p.pronamespace = 'pipeline'::regnamespace AND p.prokind <> 'a'
	  UNION ALL
	  SELECT 'view', c.relname || ': ' || pg_get_viewdef(c.oid)
	    FROM pg_class c WHERE c.relnamespace = 'pipeline'::regnamespace AND c.relkind = 'v'
	  UNION ALL
	  SELECT 'column', c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
	         || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
	    FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
	   WHERE c.relnamespace = 'pipeline'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
	  UNION ALL
	  SELECT 'version', extversion FROM pg_extension WHERE extname = 'pg_pipeline'
	) s ORDER BY 1};

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION pg_pipeline');
my $fresh = $node->safe_psql('fresh', $describe);
like($fresh, qr/^member schema pipeline$/m, 'fresh install described');

my $default = $node->safe_psql('postgres',
	"SELECT default_version FROM pg_available_extensions WHERE name = 'pg_pipeline'");
my @versions = split /\n/, $node->safe_psql('postgres',
	"SELECT version FROM pg_available_extension_versions
	  WHERE name = 'pg_pipeline' AND version <> '$default' ORDER BY version");
note('older versions: ' . (@versions ? join(', ', @versions) : 'none yet'));

for my $v (@versions)
{
	my $db = "from_$v";
	$db =~ s/\W/_/g;
	$node->safe_psql('postgres', qq{CREATE DATABASE "$db"});
	$node->safe_psql($db, "CREATE EXTENSION pg_pipeline VERSION '$v'");
	$node->safe_psql($db, 'ALTER EXTENSION pg_pipeline UPDATE');
	is($node->safe_psql($db, $describe), $fresh, "update from $v equals a fresh install");
}

# The current version updates to itself without complaint, and every
# shipped update script leads to the default version.
my ($ret, $out, $err) = $node->psql('fresh', 'ALTER EXTENSION pg_pipeline UPDATE');
is($ret, 0, 'ALTER EXTENSION UPDATE at the current version works');
like($err, qr/version "\Q$default\E" of extension "pg_pipeline" is already installed/, 'and says it is already current');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_available_extension_versions v
	  WHERE name = 'pg_pipeline' AND version <> '$default'
	    AND NOT EXISTS (SELECT 1 FROM pg_extension_update_paths('pg_pipeline') p
	                     WHERE p.source = v.version AND p.target = '$default' AND p.path IS NOT NULL)"),
	'0', 'every older version has an update path to the current one');

$node->stop;
done_testing();
