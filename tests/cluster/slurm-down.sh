#!/usr/bin/env bash
# Stop the single-node SLURM cluster that tests/cluster/slurm-up.sh started:
# slurmd, slurmctld and munged, by their pid files (pkill on the exact name as a fallback).
# Quiet success when nothing is running.
set -uo pipefail

say() { printf '[slurm-down] %s\n' "$*"; }

stop() { # stop NAME PIDFILE
    local name=$1 pidfile=$2 pid=""
    if [[ -f $pidfile ]]; then
        pid=$(cat "$pidfile" 2>/dev/null)
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]]; then
            say "stopping $name (pid $pid)"
            kill "$pid" 2>/dev/null
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            if kill -0 "$pid" 2>/dev/null; then
                say "$name did not exit; sending SIGKILL"
                kill -9 "$pid" 2>/dev/null
            fi
        else
            say "$name: stale pid file $pidfile"
        fi
        rm -f "$pidfile"
    fi
    # Fallback: a daemon without (or with a lost) pid file, matched on its exact process name.
    if pgrep -x "$name" >/dev/null 2>&1; then
        say "stopping $name (pkill -x $name)"
        pkill -x "$name" 2>/dev/null
        for _ in $(seq 50); do pgrep -x "$name" >/dev/null 2>&1 || break; sleep 0.2; done
        pgrep -x "$name" >/dev/null 2>&1 && pkill -9 -x "$name" 2>/dev/null
    fi
    pgrep -x "$name" >/dev/null 2>&1 || say "$name is not running"
}

stop slurmd /run/slurm/slurmd.pid
stop slurmctld /run/slurm/slurmctld.pid
stop munged /run/munge/munged.pid
exit 0
