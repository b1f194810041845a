#!/usr/bin/env python3
"""The peer side of `cameo bench flink`: the exact-mode generator job, run on PyFlink.

The job is the one `example-operators/jobs/window-agg-exact.toml` runs on cameo:

    datagen (seq = 0, 1, ..., events - 1)
      key   = seq % keys
      value = seq % 101
      ts    = seq * 1000 / event_rate ms (integer division), from the epoch
    -> tumbling 1 s event-time windows: COUNT(*) and SUM(value) per key and window
    -> blackhole

The watermark trails the largest event time by 1 ms, as cameo's generator source's does
(several events share a millisecond), so no event is late and every window is exact.

What is measured: the wall time of running the job (planning, submission, the local
cluster's start, the run, the teardown), minus the wall time of the same job over a handful
of events run just before it in the same JVM: the difference is the time spent on the events
themselves. A warm-up run before both loads the classes and warms the JIT. The JVM's own
start is not timed at all. The result is one JSON line on stdout:

    {"engine":"flink","events":N,"parallelism":P,"seconds":S,"events_per_s":N/S, ...}

With --verify the job collects its windows instead of dropping them and checks every count
and sum against the ones computed here (use a small --events).

Run it with the venv's Python (see setup.sh):

    target/flink-venv/bin/python bench/peers/flink/job.py --events 2000000 --parallelism 1
"""

import argparse
import datetime
import json
import sys
import time


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="The exact-mode tumbling window job on PyFlink, timed."
    )
    parser.add_argument("--events", type=int, default=10_000_000, help="events to generate")
    parser.add_argument("--keys", type=int, default=1000, help="distinct keys (key = seq %% keys)")
    parser.add_argument(
        "--event-rate",
        type=int,
        default=1_000_000,
        help="events per second of event time (ts = seq * 1000 / event_rate ms)",
    )
    parser.add_argument("--parallelism", type=int, default=1, help="parallelism of every operator")
    parser.add_argument(
        "--warmup-events", type=int, default=200_000, help="events of the untimed warm-up run"
    )
    parser.add_argument(
        "--probe-events",
        type=int,
        default=1000,
        help="events of the timed run whose wall time is taken as the fixed cost of a job",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="timed runs of the full job (the median is kept)"
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="collect the windows and check every count and sum instead of timing",
    )
    args = parser.parse_args(argv)
    for name in ("events", "keys", "event_rate", "parallelism", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup_events < 0 or args.probe_events < 1:
        parser.error("--warmup-events must be 0 or more and --probe-events at least 1")
    return args


def environment(parallelism):
    """A streaming TableEnvironment running locally with `parallelism` everywhere."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    config = env.get_config()
    config.set("parallelism.default", str(parallelism))
    config.set("table.exec.resource.default-parallelism", str(parallelism))
    # Window boundaries of TIMESTAMP_LTZ follow the session time zone: UTC, as cameo's.
    config.set("table.local-time-zone", "UTC")
    # Python is only the driver: no Python functions run in the job.
    config.set("pipeline.name", "cameo-peer-window-agg")
    return env


def source_table(env, name, events, keys, event_rate):
    """Registers the datagen source `name` of `events` events."""
    from pyflink.table import DataTypes, Schema, TableDescriptor

    schema = (
        Schema.new_builder()
        .column("seq", DataTypes.BIGINT())
        .column_by_expression("k", f"seq % {keys}")
        .column_by_expression("v", "seq % 101")
        .column_by_expression(
            "ts", f"TO_TIMESTAMP_LTZ(CAST(seq * 1000 / {event_rate} AS BIGINT), 3)"
        )
        .watermark("ts", "ts - INTERVAL '0.001' SECOND")
        .build()
    )
    descriptor = (
        TableDescriptor.for_connector("datagen")
        .schema(schema)
        # Unthrottled: the default is 10000 rows per second.
        .option("rows-per-second", str(10**12))
        .option("number-of-rows", str(events))
        .option("fields.seq.kind", "sequence")
        .option("fields.seq.start", "0")
        .option("fields.seq.end", str(events - 1))
        .build()
    )
    env.create_temporary_table(name, descriptor)


def windows_of(env, source):
    """COUNT and SUM per key over tumbling 1 s windows of `source`."""
    return env.sql_query(
        f"""
        SELECT k, window_start, window_end, COUNT(*) AS cnt, SUM(v) AS total
        FROM TABLE(TUMBLE(TABLE {source}, DESCRIPTOR(ts), INTERVAL '1' SECOND))
        GROUP BY k, window_start, window_end
        """
    )


def run_once(env, tag, events, args):
    """Runs the job over `events` events into a blackhole; returns its wall time in seconds."""
    from pyflink.table import DataTypes, Schema, TableDescriptor

    source = f"src_{tag}"
    sink = f"sink_{tag}"
    source_table(env, source, events, args.keys, args.event_rate)
    sink_schema = (
        Schema.new_builder()
        .column("k", DataTypes.BIGINT())
        .column("window_start", DataTypes.TIMESTAMP(3))
        .column("window_end", DataTypes.TIMESTAMP(3))
        .column("cnt", DataTypes.BIGINT().not_null())
        .column("total", DataTypes.BIGINT())
        .build()
    )
    env.create_temporary_table(
        sink, TableDescriptor.for_connector("blackhole").schema(sink_schema).build()
    )
    started = time.perf_counter()
    windows_of(env, source).execute_insert(sink).wait()
    return time.perf_counter() - started


def expected_windows(args):
    """(key, window start ms) -> (count, sum), computed here."""
    expected = {}
    for seq in range(args.events):
        key = seq % args.keys
        start = (seq * 1000 // args.event_rate) // 1000 * 1000
        count, total = expected.get((key, start), (0, 0))
        expected[(key, start)] = (count + 1, total + seq % 101)
    return expected


def verify(env, args):
    """Collects the job's windows and compares them with `expected_windows`; 0 when equal."""
    source_table(env, "src_verify", args.events, args.keys, args.event_rate)
    actual = {}
    with windows_of(env, "src_verify").execute().collect() as rows:
        for row in rows:
            start = row[1]
            # TIMESTAMP(3) comes back as a naive datetime in UTC.
            start_ms = round(start.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
            actual[(row[0], start_ms)] = (row[3], row[4])
    expected = expected_windows(args)
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    wrong = sorted(p for p in set(expected) & set(actual) if expected[p] != actual[p])
    report = {
        "engine": "flink",
        "verify": not (missing or extra or wrong),
        "events": args.events,
        "parallelism": args.parallelism,
        "windows": len(actual),
        "expected_windows": len(expected),
        "missing": missing[:5],
        "extra": extra[:5],
        "wrong": [(p, actual[p], expected[p]) for p in wrong[:5]],
    }
    print(json.dumps(report, default=str), flush=True)
    return 0 if report["verify"] else 1


def main(argv):
    args = parse_args(argv)
    try:
        import pyflink  # noqa: F401
    except ImportError:
        print(
            "pyflink is not installed for this Python; run bench/peers/flink/setup.sh and use "
            "the venv's python",
            file=sys.stderr,
        )
        return 2
    env = environment(args.parallelism)
    if args.verify:
        return verify(env, args)
    if args.warmup_events > 0:
        run_once(env, "warmup", args.warmup_events, args)
    overhead = run_once(env, "probe", args.probe_events, args)
    gross = []
    for round_ in range(args.rounds):
        gross.append(run_once(env, f"full{round_}", args.events, args))
    gross.sort()
    median = gross[len(gross) // 2]
    seconds = max(median - overhead, 1e-9)
    print(
        json.dumps(
            {
                "engine": "flink",
                "events": args.events,
                "parallelism": args.parallelism,
                "seconds": round(seconds, 4),
                "events_per_s": round(args.events / seconds, 1),
                "gross_seconds": round(median, 4),
                "overhead_seconds": round(overhead, 4),
                "keys": args.keys,
                "event_rate": args.event_rate,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
