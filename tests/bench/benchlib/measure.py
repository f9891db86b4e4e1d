"""Server and generator figures: /proc for the server process, generator counters, and the
summary of one measured interval."""

import os


def proc_cpu_us(pid):
    """(utime, stime) of every thread of @pid, in µs (proc(5) fields 14 and 15). stime is the
    time in the kernel, including the softirq work that ran on the process's time: on loopback
    that is also the delivery of what it sends into the receivers' sockets."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    tick_us = 1_000_000 // os.sysconf('SC_CLK_TCK')
    return int(fields[11]) * tick_us, int(fields[12]) * tick_us


def proc_status(pid):
    """(RSS in MB, thread count) from /proc/PID/status."""
    rss, threads = 0.0, 0
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                rss = int(line.split()[1]) / 1024.0
            elif line.startswith('Threads:'):
                threads = int(line.split()[1])
    return round(rss, 1), threads


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * (len(v) - 1)))))
    return round(v[k], 1)


def summarize(before, after, srv_before, srv_after, feeds):
    """Figures of the interval between two snapshots: @before/@after are loadgen "stats"
    answers, @srv_* the server's (user, kernel) CPU µs (proc_cpu_us), @feeds maps each
    subscriber id to the publisher ids it receives. Returns a dict of the JSON line's
    measures."""
    b = {p['id']: p for p in before['peers']}
    a = {p['id']: p for p in after['peers']}
    subscriber_ids = list(feeds)
    publisher_ids = sorted({x for f in feeds.values() for x in f})
    wall_us = after['now_us'] - before['now_us']
    rx = expected = lost = gaps = 0
    max_gap = 0.0
    for sid in subscriber_ids:
        pa, pb = a[sid], b[sid]
        rx += pa['rx'] - pb['rx']
        expected += pa['expected'] - pb['expected']
        lost += max(0, pa['lost'] - pb['lost'])
        gaps += pa['gaps'] - pb['gaps']
        max_gap = max(max_gap, pa['max_gap_ms'])
    sent = {i: a[i]['tx'] - b[i]['tx'] for i in publisher_ids}
    tx = sum(sent.values())
    # What the subscribers should have got: a server that drops packets before it rewrites
    # sequence numbers shows no loss in them, only here.
    due = sum(sent[x] for s in subscriber_ids for x in feeds[s])
    stalled = sum(1 for s in subscriber_ids if a[s]['rx'] == b[s]['rx'])
    ff = [a[s]['first_frame_ms'] for s in subscriber_ids if 'first_frame_ms' in a[s]]
    srv_user = srv_after[0] - srv_before[0]
    srv_kernel = srv_after[1] - srv_before[1]
    srv_cpu = srv_user + srv_kernel
    lg_cpu = after['cpu_us'] - before['cpu_us']
    srtp = sorted({a[s].get('srtp') for s in subscriber_ids + publisher_ids if a[s].get('srtp')})
    return {
        'duration_s': round(wall_us / 1e6, 2),
        'server_cpu_pct': round(100.0 * srv_cpu / wall_us, 1),
        'server_us_per_packet': round(srv_cpu / rx, 2) if rx else None,
        'server_kernel_us_per_packet': round(srv_kernel / rx, 2) if rx else None,
        'packets_sent': tx,
        'packets_forwarded': rx,
        'packets_per_s': round(rx * 1e6 / wall_us),
        'packets_lost_pct': round(100.0 * lost / expected, 3) if expected else None,
        'delivered_pct': round(100.0 * rx / due, 2) if due else None,
        'subscribers_stalled': stalled,
        'gaps': gaps,
        'max_gap_ms': round(max_gap, 1),
        'subscribers_secure': sum(1 for s in subscriber_ids if a[s]['state'] == 'secure'),
        'first_frame_ms_p50': percentile(ff, 50),
        'first_frame_ms_p99': percentile(ff, 99),
        'no_first_frame': len(subscriber_ids) - len(ff),
        'loadgen_cpu_pct': round(100.0 * lg_cpu / wall_us, 1),
        'loadgen_us_per_packet': round(lg_cpu / rx, 2) if rx else None,
        'srtp': ','.join(srtp),
    }


def udp_drops():
    """UDP datagrams dropped because a socket's receive buffer was full (RcvbufErrors in
    /proc/net/snmp). Counted per network namespace, so inside the bench's private namespace it
    covers exactly the server and the generator."""
    with open('/proc/net/snmp') as f:
        rows = [line.split() for line in f if line.startswith('Udp:')]
    if len(rows) < 2:
        return 0
    return int(dict(zip(rows[0][1:], rows[1][1:])).get('RcvbufErrors', 0))
