#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for tests/cluster/test_slurm.py.
#   sudo bash tests/cluster/slurm-up.sh     # install (once), configure, start; waits until the node is idle
#   sudo bash tests/cluster/slurm-down.sh   # stop the daemons
# Idempotent: run it again while the cluster is up and it only checks, and cancels any jobs still
# queued (the cluster is the tests' own: they are left over). Needs root and
# Debian/Ubuntu packages (slurm-wlm, munge); no systemd: the daemons are started here.
# One partition, `debug`, with this node in it; no accounting (use squeue, not sacct).
set -euo pipefail

say() { printf '[slurm-up] %s\n' "$*"; }
die() { printf '[slurm-up] ERROR: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages and starts munged, slurmctld and slurmd)"

HOST=$(hostname -s)
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
RUN_DIR=/run/slurm
LOG_DIR=/var/log/slurm
CTLD_SPOOL=/var/spool/slurmctld
SLURMD_SPOOL=/var/spool/slurmd
MUNGE_KEY=/etc/munge/munge.key
WAIT_S=${SLURM_UP_WAIT_S:-60}
# A cancelled job stays COMPLETING until slurmd confirms it, KillWait (30 s) and more for a job it
# does not know any more.
CANCEL_WAIT_S=${SLURM_UP_CANCEL_WAIT_S:-180}

# --- 1. packages -----------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    command -v apt-get >/dev/null || die "slurmctld/slurmd/munged not installed and no apt-get to install them"
    say "installing slurm-wlm and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q slurm-wlm munge; then
        say "apt-get install failed; running apt-get update and retrying"
        apt-get update -q || die "apt-get update failed"
        apt-get install -y -q slurm-wlm munge || die "apt-get install slurm-wlm munge failed"
    fi
else
    say "slurm-wlm and munge already installed ($(slurmctld -V 2>/dev/null || echo 'slurm ?'))"
fi

# --- 2. munge ----------------------------------------------------------------------------
id munge >/dev/null 2>&1 || die "no 'munge' user (the munge package creates it)"
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
if [[ ! -s $MUNGE_KEY ]]; then
    say "generating the munge key $MUNGE_KEY"
    if command -v mungekey >/dev/null; then
        mungekey --create --keyfile="$MUNGE_KEY" --force
    else
        dd if=/dev/urandom of="$MUNGE_KEY" bs=1 count=1024 status=none
    fi
fi
chown munge:munge "$MUNGE_KEY"
chmod 0400 "$MUNGE_KEY"

munge_ok() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }
if munge_ok; then
    say "munged already running"
else
    # A stale pid file or socket from a killed munged makes a new one refuse to start.
    if [[ -f /run/munge/munged.pid ]] && ! kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; then
        rm -f /run/munge/munged.pid
    fi
    say "starting munged (as user munge)"
    runuser -u munge -- munged --force || die "munged failed to start; see /var/log/munge/munged.log"
    for _ in $(seq 50); do munge_ok && break; sleep 0.2; done
    munge_ok || { tail -n 30 /var/log/munge/munged.log >&2 || true; die "munge credentials do not round-trip"; }
fi

# --- 3. slurm.conf -------------------------------------------------------------------------
install -d -m 0755 "$CONF_DIR" "$RUN_DIR" "$LOG_DIR" "$CTLD_SPOOL" "$SLURMD_SPOOL"
# nproc obeys OMP_NUM_THREADS, which the test suite's thread discipline sets to 1 in a pytest worker
# once any test has configured the solver's threads: a node of 1 CPU then never fits a job that
# packs two points (pending forever, reason PartitionConfig; it happened in CI). Cores of the
# affinity mask, as slurmd counts them, without the OpenMP variables.
CPUS=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
MEM_MB=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
REAL_MB=$((MEM_MB * 90 / 100)) # a bit below the machine's, so slurmd does not drain the node
new_conf=$(mktemp)
trap 'rm -f "$new_conf"' EXIT
cat >"$new_conf" <<EOF
# Written by tests/cluster/slurm-up.sh: one node ($HOST, localhost), no accounting.
ClusterName=testcluster
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Finished jobs stay visible to squeue/scontrol this long (the squeue status command needs >= 120 s).
MinJobAge=900
StateSaveLocation=$CTLD_SPOOL
SlurmdSpoolDir=$SLURMD_SPOOL
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmctldPort=6817
SlurmdPort=6818
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$REAL_MB State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
conf_changed=0
if ! cmp -s "$new_conf" "$CONF"; then
    say "writing $CONF (node $HOST: CPUs=$CPUS RealMemory=$REAL_MB, partition debug)"
    install -m 0644 "$new_conf" "$CONF"
    conf_changed=1
else
    say "$CONF is up to date"
fi

# --- 4. daemons ----------------------------------------------------------------------------
running() { # running NAME PIDFILE; a zombie (killed, not yet reaped) is not running
    local pid
    [[ -f $2 ]] && pid=$(cat "$2") && kill -0 "$pid" 2>/dev/null || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]] && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]
}
start_slurmctld() {
    # -c: recover no jobs from StateSaveLocation. A controller that is not running died with an
    # earlier run (killed, or its machine restored), and the jobs it saved are that run's
    # leftovers; recovered, one could hold the node as RUNNING with no process behind it.
    say "starting slurmctld (without the jobs of its saved state)"
    slurmctld -c || die "slurmctld failed to start; see $LOG_DIR/slurmctld.log"
}
stop() { # stop NAME PIDFILE [REASON]
    if running "$1" "$2"; then
        say "stopping $1 (${3:-configuration changed})"
        kill "$(cat "$2")"
        for _ in $(seq 50); do running "$1" "$2" || break; sleep 0.2; done
    fi
}
if ((conf_changed)); then
    stop slurmd "$RUN_DIR/slurmd.pid"
    stop slurmctld "$RUN_DIR/slurmctld.pid"
fi
if running slurmctld "$RUN_DIR/slurmctld.pid"; then
    say "slurmctld already running (pid $(cat "$RUN_DIR/slurmctld.pid"))"
else
    start_slurmctld
fi
if running slurmd "$RUN_DIR/slurmd.pid"; then
    say "slurmd already running (pid $(cat "$RUN_DIR/slurmd.pid"))"
else
    say "starting slurmd"
    slurmd || die "slurmd failed to start; see $LOG_DIR/slurmd.log"
fi

# --- 5. wait for the node --------------------------------------------------------------------
# The deadline is on the clock, not a count of tries: with the controller down each sinfo
# retries its connection for seconds.
wait_for_node() {
    say "waiting up to ${WAIT_S}s for node $HOST to be idle"
    local resumed=0 state="" deadline=$((SECONDS + WAIT_S))
    while ((SECONDS < deadline)); do
        state=$(timeout 10 sinfo --noheader --nodes="$HOST" --format=%T 2>/dev/null | head -n 1 || true)
        case $state in
            idle | mixed | allocated | completing) break ;;
            drain* | down* | fail*)
                # Left over from an earlier run (e.g. slurmd stopped while the controller ran).
                if ((!resumed)); then
                    say "node is '$state'; asking slurmctld to resume it"
                    scontrol update NodeName="$HOST" State=RESUME 2>/dev/null || true
                    resumed=1
                fi
                ;;
        esac
        sleep 0.5
    done
    case $state in
        idle | mixed | allocated | completing)
            say "cluster is up: node $HOST is $state"
            ;;
        *)
            printf '[slurm-up] node state: %s\n' "${state:-<no answer from slurmctld>}" >&2
            for log in "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" /var/log/munge/munged.log; do
                printf '\n===== last lines of %s =====\n' "$log" >&2
                tail -n 40 "$log" >&2 2>/dev/null || true
            done
            die "node $HOST did not become idle within ${WAIT_S}s"
            ;;
    esac
}
wait_for_node

# --- 6. an empty queue -------------------------------------------------------------------------
# A controller that was already running may still hold jobs of an earlier test run that was
# killed (its Snakemake gone): pending or running, they hold the node, and a new run's jobs would
# wait behind them until their time limits. This cluster is the tests' own, so whatever is queued
# when it comes up is left over: cancel it and wait for the node to be free.
queued() { timeout 10 squeue --noheader --states=PENDING,RUNNING,SUSPENDED,COMPLETING,CONFIGURING --format=%i 2>/dev/null; }
left=$(queued | tr '\n' ' ')
if [[ -n ${left// /} ]]; then
    say "cancelling jobs left over from an earlier run: $left"
    # shellcheck disable=SC2086 # one argument per job id
    scancel $left || true
    deadline=$((SECONDS + CANCEL_WAIT_S))
    while ((SECONDS < deadline)) && [[ -n $(queued) ]]; do sleep 1; done
    if [[ -n $(queued) ]]; then
        # A job slurmd cannot confirm stays COMPLETING: start the controller again without it.
        squeue --all
        say "left-over jobs did not end within ${CANCEL_WAIT_S}s; restarting slurmctld without its saved jobs"
        stop slurmctld "$RUN_DIR/slurmctld.pid" "left-over jobs"
        start_slurmctld
        wait_for_node
        [[ -z $(queued) ]] || { squeue --all >&2; die "jobs are still queued after a clean restart of slurmctld"; }
    fi
fi
sinfo
