# The examples of the documentation, run as written: each page listed in
# @pages runs on a fresh database of one preloaded node, next to a test
# Kafka broker of its own, its blocks in order, and fails naming the page,
# the line of the block and the difference.  The conventions a page follows (the
# fenced blocks' info strings, the expected outputs and how they are
# compared, the directives) are in docs/testing.md#the-doc-examples; in
# short:
#
#   ```sql             run with psql; must succeed
#   ```sql norun       shown only (a signature, a fragment, another server)
#   ```sh run          run with bash (PGHOST, PGPORT, PGDATABASE point at
#                      the page's database); other ```sh blocks are shown only
#   ```text            right after a run block (blank lines between):
#                      what psql (or the shell) prints, compared
#   <!-- wait -->      on the line before a block: repeat it until its output
#                      matches, at most 60 s (<!-- wait 120 --> for longer)
#   <!-- varies: c1, c2 -->  between a block and its output: the cells of
#                      these columns are not compared (values of the moment)
#
# The Kafka address localhost:9092 in a run block is the test broker's.
# Every docs/*.md page is either run or listed in %gaps with the reason.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::RealBin/..";
use PipelineTest;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time sleep);

skip_without_kcat();

my $docs = "$FindBin::RealBin/../../docs";

# The pages run, in order.
my @pages = qw(tutorial.md window.md scheduler.md models.md quality.md kafka.md);

# The pages not run, with the reason (docs/testing.md lists them too).
my %gaps = (
	'README.md' => 'a sketch of the whole pipeline, no complete example',
	'architecture.md' => 'internals: worker and catalog fragments, no example to run',
	'benchmarks.md' => 'benchmark scripts and their timings on one machine, run by bench/',
	'configuration.md' => 'postgresql.conf settings; changing them needs a restart',
	'installation.md' => 'installs packages and restarts the server; the tutorial runs its SQL',
	'security.md' => 'the threat model: attacks as fragments; the tests of test/sql/security_* run them',
	'testing.md' => 'how to run the tests',
	'reference.md' => 'signatures and tables, checked by t/090_reference.pl',
	'scale-out.md' => 'needs two servers: t/032_kafka_scale_out.pl runs its steps',
	'status.md' => 'not yet made runnable: its examples read a pipeline no block of the page creates',
	'lineage.md' => 'not yet made runnable: its examples draw a pipeline no block of the page creates; t/085 and test/sql/lineage.sql check the output',
	'backup.md' => 'pg_dump and pg_restore at the shell, checked by t/063_dump_restore_pipeline.pl',
	'models/definition.md' => 'not yet made runnable: fragments of model definitions over tables no page creates',
	'models/build.md' => 'not yet made runnable: fragments of model definitions over tables no page creates',
	'models/runs.md' => 'not yet made runnable: outputs of runs over models no page creates',
	'models/seeds-snapshots.md' => 'not yet made runnable: seed files on the server\'s disk',
	'quality/expectations.md' => 'not yet made runnable: fragments over tables no page creates',
	'quality/contracts.md' => 'not yet made runnable: contract files on the server\'s disk',
);
# A page in both lists is a mistake; a page on disk in neither is new.
my %all = map { $_ => 1 } @pages, keys %gaps;
for my $page (@pages)
{
	ok(!exists $gaps{$page}, "$page is run or a gap, not both");
}
for my $file (sort(glob("$docs/*.md"), glob("$docs/*/*.md")))
{
	(my $page = $file) =~ s{^\Q$docs\E/}{};
	next if $page =~ /\.part\.md$/;    # a part of reference.md before it is pasted in
	ok($all{$page}, "docs/$page is run by t/091_docs.pl or listed as a gap");
}

# A writer may run some pages only: PP_DOCS_PAGES=tutorial.md,window.md
@pages = split /,/, $ENV{PP_DOCS_PAGES} if $ENV{PP_DOCS_PAGES};

# Topics the pages produce to or read from, on a new broker for each page
# (a page reads a topic from its beginning).
my @topics = qw(user-events:1 page-view-stats:1 orders:1 alerts:1);
my $tmp = PostgreSQL::Test::Utils::tempdir('docs');
my $addr;

my $node = pipeline_node('docs',
	init => { extra => [ '--encoding=UTF8', '--locale=C' ] },
	conf => "timezone = 'UTC'\n");
$node->start;

########################################################################
# A page: its blocks
########################################################################

# The blocks of a page, in order: { line, lang, attrs => { norun, run },
# text, expect => text or undef, expect_line, wait => seconds or undef }.
sub page_blocks
{
	my ($file) = @_;
	open(my $fh, '<', $file) or die "$file: $!";
	my @lines = <$fh>;
	close($fh);
	my (@blocks, $prev_directive, $last_run_block, $blank_since_block);
	my $i = 0;
	while ($i < @lines)
	{
		my $line = $lines[$i];
		if ($line =~ /^(\s*)```(\S*)\s*(.*?)\s*$/)
		{
			my ($indent, $lang, $rest) = ($1, $2, $3);
			my $start = $i + 1;
			my $text = '';
			$i++;
			while ($i < @lines && $lines[$i] !~ /^\s*```\s*$/)
			{
				(my $l = $lines[$i]) =~ s/^\Q$indent\E//;
				$text .= $l;
				$i++;
			}
			$i++;
			my %attrs = map { $_ => 1 } split /\s+/, $rest;
			if ($lang eq 'text' && $last_run_block)
			{
				$last_run_block->{expect} = $text;
				$last_run_block->{expect_line} = $start;
				$last_run_block = undef;
				next;
			}
			my $block = { line => $start, lang => $lang, attrs => \%attrs, text => $text,
				wait => $prev_directive };
			my $runs = ($lang eq 'sql' && !$attrs{norun}) || ($lang eq 'sh' && $attrs{run});
			push @blocks, $block if $runs;
			$last_run_block = $runs ? $block : undef;
			$prev_directive = undef;
			next;
		}
		if ($line =~ /^\s*<!--\s*varies:\s*(.*?)\s*-->\s*$/ && $last_run_block)
		{
			$last_run_block->{varies} = [ split /\s*,\s*/, $1 ];
		}
		elsif ($line =~ /^\s*<!--\s*wait(?:\s+(\d+))?\s*-->\s*$/)
		{
			$prev_directive = $1 // 60;
		}
		elsif ($line !~ /^\s*$/)
		{
			# only blank lines between a block and its output
			$last_run_block = undef;
			$prev_directive = undef;
		}
		$i++;
	}
	return @blocks;
}

# The rule of comparison, applied to both sides: trailing blanks dropped,
# runs of blanks made one, leading and trailing empty lines dropped, a
# table's header rule (only - and +) made "---", psql's "psql:file:N: "
# prefix dropped, and what varies from run to run replaced:
#   a timestamp with a fraction of a second  -> <timestamp>
#   a time or interval with a fraction        -> <duration>
#   "N ms" of a duration                      -> <ms>
#   a process id, "PID N"                     -> PID <pid>
sub normalise
{
	my ($text) = @_;
	my @out;
	for my $l (split /\n/, $text)
	{
		$l =~ s/^psql:[^:]*:\d+: //;
		$l =~ s/\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d\.\d+(?:[+-]\d\d(?::\d\d)?)?/<timestamp>/g;
		$l =~ s/(?:\d+ days? )?-?\d\d:\d\d:\d\d\.\d+/<duration>/g;
		$l =~ s/\b\d+(?:\.\d+)? ms\b/<ms>/g;
		$l =~ s/\bPID \d+/PID <pid>/g;
		$l =~ s/\s+$//;
		$l =~ s/\s+/ /g;
		$l =~ s/^ //;
		$l = '---' if $l =~ /^[-+]+$/;
		push @out, $l;
	}
	shift @out while @out && $out[0] eq '';
	pop @out while @out && $out[-1] eq '';
	return join("\n", @out);
}

# Run one block on the page's database; returns (exit status, output:
# stdout then stderr).
# The cells of the named columns of psql's aligned tables in $text made
# "*" (<!-- varies: next_run_at, duration --> before an output: values of the
# moment the block ran, shown as an example).
sub blank_columns
{
	my ($text, $columns) = @_;
	return $text unless @$columns;
	my @lines = split /\n/, $text, -1;
	my @blank;
	for my $i (0 .. $#lines)
	{
		if ($i < $#lines && $lines[ $i + 1 ] =~ /^[-+]+$/)
		{
			my @names = map { s/^\s+|\s+$//gr } split /\|/, $lines[$i];
			my %want = map { $_ => 1 } @$columns;
			@blank = grep { $want{ $names[$_] } } 0 .. $#names;
			next;
		}
		if ($lines[$i] =~ /^\(\d+ rows?\)$/ || $lines[$i] eq '')
		{
			@blank = ();
			next;
		}
		next unless @blank && $lines[$i] !~ /^[-+]+$/;
		my @cells = split /\|/, $lines[$i], -1;
		$cells[$_] = ' * ' for grep { $_ <= $#cells } @blank;
		$lines[$i] = join('|', @cells);
	}
	return join("\n", @lines);
}

sub run_block
{
	my ($db, $block) = @_;
	(my $text = $block->{text}) =~ s/localhost:9092/$addr/g;
	my $file = "$tmp/block.$block->{lang}";
	open(my $fh, '>', $file) or die "$file: $!";
	print $fh $text;
	close($fh);
	my @cmd = $block->{lang} eq 'sql'
	  ? ('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr($db), '-f', $file)
	  : ('bash', '-e', $file);
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{PGDATABASE} = $db;
	local $ENV{PGTZ} = 'UTC';
	my ($out, $err) = ('', '');
	IPC::Run::run(\@cmd, '<', \'', '>', \$out, '2>', \$err, IPC::Run::timeout(300));
	return ($? >> 8, $out . $err);
}

sub diff_text
{
	my ($want, $got) = @_;
	open(my $w, '>', "$tmp/want") or die; print $w "$want\n"; close($w);
	open(my $g, '>', "$tmp/got") or die; print $g "$got\n"; close($g);
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'diff', '-u', "$tmp/want", "$tmp/got" ], '>', \$out, '2>', \$err);
	return $out;
}

# Run a page's blocks on a new database, next to a new broker; returns the
# number of blocks and the failures ("page:line: what"), none when every
# block ran as written.  $name is how the page is named in the messages.
my $n = 0;
sub run_page
{
	my ($file, $name) = @_;
	my $db = 'docs_' . ++$n;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$addr = start_broker("$tmp/broker$n", @topics);
	my @blocks = page_blocks($file);
	my @failures;
	for my $block (@blocks)
	{
		my $where = "$name:$block->{line}";
		my $varies = $block->{varies} // [];
		my $want = defined $block->{expect} ? normalise(blank_columns($block->{expect}, $varies)) : undef;
		# an output showing an error is a block that is meant to fail
		my $may_fail = defined $want && $want =~ /^(?:ERROR|FATAL):/m;
		my ($rc, $got, $raw);
		my $deadline = time() + ($block->{wait} // 0);
		while (1)
		{
			($rc, $raw) = run_block($db, $block);
			$got = normalise(blank_columns($raw, $varies));
			my $ok = ($rc == 0 || $may_fail) && (!defined $want || $got eq $want);
			last if $ok || time() >= $deadline;
			sleep(0.5);
		}
		my $failed;
		if ($rc != 0 && !$may_fail)
		{
			$failed = "$where: the block failed (exit $rc):\n$got";
		}
		elsif (defined $want && $got ne $want)
		{
			$failed = "$where: the output differs from the one at line $block->{expect_line}"
			  . ($block->{wait} ? " (waited $block->{wait} s)" : '') . ":\n"
			  . diff_text($want, $got)
			  . ($ENV{PP_DOCS_KEEP_GOING} ? "what psql printed:\n$raw" : '');
		}
		next unless $failed;
		push @failures, $failed;
		# the blocks after a failure depend on it: stop there, unless a
		# writer asks to see every block's difference
		last unless $ENV{PP_DOCS_KEEP_GOING};
	}
	# stop the page's workers before the next one
	$node->safe_psql('postgres', "DROP DATABASE $db WITH (FORCE)");
	system(broker_program(), 'stop', "$tmp/broker$n");
	return (scalar(@blocks), @failures);
}

########################################################################
# The runner can fail: a page of its own with a wrong output, a failing
# block, a block that must fail and does, a varying column, a wait
########################################################################
{
	my $page = "$tmp/selftest.md";
	open(my $fh, '>', $page) or die;
	print $fh <<'PAGE';
# a page

```sql
SELECT 1 AS one, current_date AS at, 'x' AS word;
```
<!-- varies: at -->
```text
 one |     at     | word
-----+------------+------
   1 | 2020-01-01 | x
(1 row)
```

```sql norun
THIS IS NOT SQL;
```

```sql
SELECT 1/0;
```
```text
ERROR:  division by zero
```

```sql
SELECT 2 AS two;
```
```text
 two
-----
   3
(1 row)
```
PAGE
	close($fh);
	my ($blocks, @failures) = run_page($page, 'selftest.md');
	is($blocks, 3, 'the runner: norun blocks are not run');
	is(scalar(@failures), 1, 'the runner: one failure on its test page')
	  or diag(join("\n", @failures));
	like($failures[0] // '', qr/^selftest\.md:25: the output differs from the one at line 28:\n.*^-3\n.*^\+2\n/ms,
		'the runner: a wrong output is named by page and line, with the diff');

	open($fh, '>', $page) or die;
	print $fh "```sql\nSELECT no_such_column;\n```\n\n```sql\nSELECT 1;\n```\n";
	close($fh);
	($blocks, @failures) = run_page($page, 'selftest.md');
	like(join("\n", @failures), qr/^selftest\.md:1: the block failed \(exit 3\):\nERROR: column "no_such_column" does not exist/,
		'the runner: a failing block is named, and the page stops there');
}

########################################################################
# The pages
########################################################################
for my $page (@pages)
{
	my $t0 = time();
	my ($blocks, @failures) = run_page("$docs/$page", "docs/$page");
	ok(!@failures, "docs/$page: $blocks blocks run as written")
	  or diag(join("\n", @failures));
	note(sprintf("docs/%s took %.1f s", $page, time() - $t0));
}

$node->stop;
done_testing();
