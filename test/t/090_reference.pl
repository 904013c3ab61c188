# The reference (docs/reference.md) against the catalog of a fresh install.
#
# Lists every function of schema pipeline (each overload, by its arguments
# as pg_get_function_arguments prints them, and its result), every table,
# view and composite type with its columns, and every pg_pipeline.*
# parameter, and fails with one line per problem, naming the object:
#
#   function pipeline.publish(sink text, payload text, key text, headers jsonb) is missing from docs/reference.md
#   pipeline.publish: the signature in docs/reference.md is not the catalog's: ...
#   pipeline.publish: documented argument "sinq" does not exist
#   column lag of pipeline.source_status is missing from docs/reference.md
#   column pipeline.source_status.lagg is documented but does not exist
#   heading "### pipeline.no_such_thing" names nothing that exists
#   column topic of pipeline.sources has no COMMENT
#
# The format it reads is the one docs/reference.md describes: a heading
# "### pipeline.NAME" per function name (a fenced line per overload,
# "pipeline.NAME(arguments) RETURNS result") and per table or view (a row
# "| `column` | type | meaning |" per column), "### pg_pipeline.NAME" per
# parameter, and under "## Internal" a row "| `pipeline._NAME(arguments)` |"
# per internal function.
#
# It also fails for an object or column without a COMMENT (a parameter
# without its short description).  An upgraded install has the same
# comments as a fresh one: t/013_upgrade.pl compares them.
#
# The second half checks that the checker can fail: it runs it on a
# doctored copy of the reference (an entry removed, an argument misspelt, a
# column removed and one invented, a heading naming nothing) and on the
# catalog with a comment removed (in a transaction rolled back), and
# expects exactly those problems.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = pipeline_node('reference');
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_pipeline');

my $reference_file = "$FindBin::RealBin/../../docs/reference.md";
my $reference = PostgreSQL::Test::Utils::slurp_file($reference_file);

# The catalog as lines "kind<TAB>...", kinds:
#   F name identity signature commented   (signature as the reference writes it)
#   R name commented                      (table, view, composite type)
#   C relation column commented
#   G name commented                      (parameter)
my $catalog_sql = <<'SQL';
SELECT 'F', p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid),
       'pipeline.' || p.proname || '(' || pg_catalog.pg_get_function_arguments(p.oid) || ')'
       || CASE WHEN p.proname !~ '^_' THEN ' RETURNS ' || pg_catalog.pg_get_function_result(p.oid) ELSE '' END,
       coalesce(pg_catalog.obj_description(p.oid, 'pg_proc'), '') <> ''
  FROM pg_catalog.pg_proc p
 WHERE p.pronamespace = 'pipeline'::regnamespace
UNION ALL
SELECT 'R', c.relname, '', '',
       coalesce(pg_catalog.obj_description(c.oid, 'pg_class'),
                pg_catalog.obj_description(c.reltype, 'pg_type'), '') <> ''
  FROM pg_catalog.pg_class c
 WHERE c.relnamespace = 'pipeline'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
UNION ALL
SELECT 'C', c.relname, a.attname, '', coalesce(pg_catalog.col_description(c.oid, a.attnum), '') <> ''
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
 WHERE c.relnamespace = 'pipeline'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
   AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'G', s.name, '', '', coalesce(s.short_desc, '') <> ''
  FROM pg_catalog.pg_settings s
 WHERE s.name LIKE 'pg\_pipeline.%'
ORDER BY 1, 2, 3
SQL

# The catalog, as { functions => { name => [ { ident, signature, commented } ] },
# relations => { name => { commented, columns => { column => commented } } },
# parameters => { name => commented } }; with $break, as that SQL leaves it
# (rolled back afterwards).
sub catalog
{
	my ($break) = @_;
	my $sql = defined $break ? "BEGIN;\n$break;\n$catalog_sql;\nROLLBACK;" : "$catalog_sql;";
	my $out = $node->safe_psql('postgres', $sql, extra_params => [ '-F', "\t" ]);
	my %cat = (functions => {}, relations => {}, parameters => {});
	for my $line (split /\n/, $out)
	{
		my ($kind, $a, $b, $c, $commented) = split /\t/, $line, -1;
		next unless defined $commented;
		$commented = $commented eq 't';
		if ($kind eq 'F')
		{
			push @{ $cat{functions}{$a} }, { ident => $b, signature => $c, commented => $commented };
		}
		elsif ($kind eq 'R')
		{
			$cat{relations}{$a}{commented} = $commented;
			$cat{relations}{$a}{columns} //= {};
		}
		elsif ($kind eq 'C')
		{
			$cat{relations}{$a}{columns}{$b} = $commented;
		}
		elsif ($kind eq 'G')
		{
			$cat{parameters}{$a} = $commented;
		}
	}
	return \%cat;
}

# The reference, as { headings => [ text ], signatures => { name => [ signature ] },
# internal => { name => [ signature ] }, columns => { relation => [ column ] },
# parameters => { name => 1 } }.
sub parse_reference
{
	my ($text) = @_;
	my %doc = (headings => [], signatures => {}, internal => {}, columns => {}, parameters => {},
		objects => {});
	my ($section, $object, $in_code) = ('', undef, 0);
	for my $line (split /\n/, $text)
	{
		if ($line =~ /^```/)
		{
			$in_code = !$in_code;
			next;
		}
		if ($in_code)
		{
			if (defined $object && $line =~ /^(?:AGGREGATE )?(pipeline\.(\w+)\(.*)$/)
			{
				push @{ $doc{signatures}{$2} }, $1 if $2 eq $object;
			}
			next;
		}
		if ($line =~ /^## (.*?)\s*$/)
		{
			($section, $object) = ($1, undef);
		}
		elsif ($line =~ /^### (.*?)\s*$/)
		{
			my $h = $1;
			push @{ $doc{headings} }, $h;
			$object = undef;
			if ($h =~ /^pipeline\.(\w+)$/)
			{
				$object = $1;
				$doc{objects}{$1} = 1;
			}
			elsif ($h =~ /^pg_pipeline\.\w+$/)
			{
				$doc{parameters}{$h} = 1;
			}
		}
		elsif ($section eq 'Internal' && $line =~ /^\| `(pipeline\.(_\w+)\(.*\))` \|/)
		{
			push @{ $doc{internal}{$2} }, $1;
		}
		elsif (defined $object && $line =~ /^\| `([^`]+)` \|/)
		{
			push @{ $doc{columns}{$object} }, $1;
		}
	}
	return \%doc;
}

# The argument names of a signature "pipeline.f(IN a integer, b text DEFAULT ...) ...".
sub argument_names
{
	my ($signature) = @_;
	my ($args) = $signature =~ /^pipeline\.\w+\((.*?)\)(?: RETURNS |$)/;
	return () unless defined $args && $args ne '';
	my @names;
	for my $arg (split /,\s*(?=(?:(?:IN|OUT|INOUT|VARIADIC) )?\w+ )/, $args)
	{
		$arg =~ s/^(?:IN|OUT|INOUT|VARIADIC) //;
		push @names, $1 if $arg =~ /^(\w+) /;
	}
	return @names;
}

# One line per problem, sorted.
sub problems
{
	my ($text, $cat) = @_;
	my $doc = parse_reference($text);
	my @out;

	# functions: every overload documented as the catalog prints it
	for my $name (sort keys %{ $cat->{functions} })
	{
		my $internal = $name =~ /^_/;
		my $documented = ($internal ? $doc->{internal} : $doc->{signatures})->{$name} // [];
		my %documented = map { $_ => 1 } @$documented;
		for my $f (@{ $cat->{functions}{$name} })
		{
			push @out, "function pipeline.$name($f->{ident}) has no COMMENT" unless $f->{commented};
			next if $documented{ $f->{signature} };
			push @out, @$documented || ($doc->{objects}{$name} && !$internal)
			  ? "pipeline.$name($f->{ident}): the signature in docs/reference.md is not the catalog's: $f->{signature}"
			  : "function pipeline.$name($f->{ident}) is missing from docs/reference.md";
		}
		# what is documented and does not exist
		my %real = map { $_->{signature} => 1 } @{ $cat->{functions}{$name} };
		my %real_args = map { $_ => 1 } map { argument_names($_->{signature}) } @{ $cat->{functions}{$name} };
		for my $sig (grep { !$real{$_} } @$documented)
		{
			my @bad = grep { !$real_args{$_} } argument_names($sig);
			push @out, @bad
			  ? map { "pipeline.$name: documented argument \"$_\" does not exist" } @bad
			  : "pipeline.$name: documented signature matches no overload: $sig";
		}
	}
	for my $name (sort grep { !$cat->{functions}{$_} } keys %{ $doc->{internal} })
	{
		push @out, "internal function pipeline.$name is documented but does not exist";
	}

	# tables, views, composite types and their columns
	for my $rel (sort keys %{ $cat->{relations} })
	{
		my $r = $cat->{relations}{$rel};
		push @out, "pipeline.$rel has no COMMENT" unless $r->{commented};
		for my $col (sort keys %{ $r->{columns} })
		{
			push @out, "column $col of pipeline.$rel has no COMMENT" unless $r->{columns}{$col};
		}
		if (!$doc->{objects}{$rel})
		{
			push @out, "relation pipeline.$rel is missing from docs/reference.md";
			next;
		}
		my %listed = map { $_ => 1 } @{ $doc->{columns}{$rel} // [] };
		for my $col (sort keys %{ $r->{columns} })
		{
			push @out, "column $col of pipeline.$rel is missing from docs/reference.md" unless $listed{$col};
		}
		for my $col (sort grep { !exists $r->{columns}{$_} } keys %listed)
		{
			push @out, "column pipeline.$rel.$col is documented but does not exist";
		}
	}

	# parameters
	for my $name (sort keys %{ $cat->{parameters} })
	{
		push @out, "parameter $name has no description" unless $cat->{parameters}{$name};
		push @out, "parameter $name is missing from docs/reference.md" unless $doc->{parameters}{$name};
	}

	# headings that name nothing
	for my $h (@{ $doc->{headings} })
	{
		my $exists =
		    $h =~ /^pipeline\.(\w+)$/ ? ($cat->{functions}{$1} || $cat->{relations}{$1})
		  : $h =~ /^pg_pipeline\.\w+$/ ? exists $cat->{parameters}{$h}
		  : 1;
		push @out, "heading \"### $h\" names nothing that exists" unless $exists;
	}
	my %seen;
	return sort grep { !$seen{$_}++ } @out;
}

########################################################################
# The reference and the catalog agree
########################################################################
my $cat = catalog();
cmp_ok(scalar(keys %{ $cat->{functions} }), '>', 100, 'the catalog lists the functions of schema pipeline');
cmp_ok(scalar(keys %{ $cat->{relations} }), '>', 30, 'the catalog lists its tables and views');
cmp_ok(scalar(keys %{ $cat->{parameters} }), '>', 10, 'the catalog lists the pg_pipeline.* parameters');

my @problems = problems($reference, $cat);
is(join("\n", @problems), '', 'docs/reference.md documents every object, column and parameter, and nothing else; every one has a COMMENT');

########################################################################
# The checker can fail
########################################################################

# the problems of a doctored copy that the reference itself does not have
# (so that one missing entry fails the test above, not all of these)
my %baseline = map { $_ => 1 } @problems;
sub new_problems
{
	my ($text, $catalog) = @_;
	return join("\n", grep { !$baseline{$_} } problems($text, $catalog // $cat));
}

sub doctor
{
	my ($text, $from, $to, $what) = @_;
	my $n = ($text =~ s/\Q$from\E/$to/);
	ok($n, "the doctored copy: $what");
	return $text;
}

# a function's whole entry removed
my $doctored = $reference;
$doctored =~ s/^### pipeline\.zstd_decompress\n.*?(?=^### )//ms
  or fail('the doctored copy: zstd_decompress removed');
is(new_problems($doctored),
	'function pipeline.zstd_decompress(bytea) is missing from docs/reference.md',
	'a function missing from the reference is named');

# an argument misspelt; a default changed
$doctored = doctor($reference, 'pipeline.publish(sink text,', 'pipeline.publish(sinq text,', 'publish\'s sink misspelt');
is(new_problems($doctored),
	join("\n", 'pipeline.publish(sink text, payload text, key text, headers jsonb): the signature in docs/reference.md is not the catalog\'s: '
		  . $cat->{functions}{publish}[0]{signature},
		'pipeline.publish: documented argument "sinq" does not exist'),
	'a misspelt argument is named');
$doctored = doctor($reference, "pipeline.check(relation regclass, fail_on_error boolean DEFAULT false)",
	"pipeline.check(relation regclass, fail_on_error boolean DEFAULT true)", 'a default changed');
like(new_problems($doctored),
	qr/^pipeline\.check\(relation regclass, fail_on_error boolean\): the signature in docs\/reference\.md is not the catalog's: .*\npipeline\.check: documented signature matches no overload: .*DEFAULT true/,
	'a wrong default is caught');

# an internal function's row removed
$doctored = $reference;
$doctored =~ s/^\| `pipeline\._owner_oid\(\)` \|.*\n//m or fail('the doctored copy: _owner_oid removed');
is(new_problems($doctored),
	'function pipeline._owner_oid() is missing from docs/reference.md',
	'an internal function missing from the Internal table is named');

# a column removed, one invented
$doctored = doctor($reference, "| `lag` | numeric | sum of", "| `lagg` | numeric | sum of", 'source_status.lag renamed');
is(new_problems($doctored),
	"column lag of pipeline.source_status is missing from docs/reference.md\n"
	  . 'column pipeline.source_status.lagg is documented but does not exist',
	'a missing column and an invented one are named');

# a relation removed; a heading naming nothing; a parameter removed
$doctored = $reference;
$doctored =~ s/^### pipeline\.sink_progress\n.*?(?=^### )/### pipeline.no_such_thing\n\n/ms
  or fail('the doctored copy: sink_progress replaced');
$doctored =~ s/^### pg_pipeline\.naptime\n//m or fail('the doctored copy: naptime removed');
is(new_problems($doctored),
	join("\n",
		'heading "### pipeline.no_such_thing" names nothing that exists',
		'parameter pg_pipeline.naptime is missing from docs/reference.md',
		'relation pipeline.sink_progress is missing from docs/reference.md'),
	'a missing relation, a missing parameter and a heading naming nothing are named');

# comments removed from the catalog (rolled back)
my $uncommented = catalog('COMMENT ON COLUMN pipeline.sources.topic IS NULL; '
	  . 'COMMENT ON VIEW pipeline.jobs IS NULL; COMMENT ON FUNCTION pipeline.tumble(interval) IS NULL');
is(new_problems($reference, $uncommented),
	join("\n",
		'column topic of pipeline.sources has no COMMENT',
		'function pipeline.tumble(size interval) has no COMMENT',
		'pipeline.jobs has no COMMENT'),
	'an object or column without a COMMENT is named');

$node->stop;
done_testing();
