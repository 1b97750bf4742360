#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, from Debian's packages, for the
# cluster test (tests/test_slurm.py) and for trying profiles/slurm by hand.
#
#   tests/slurm/cluster.sh up      install (first time), configure, start; idempotent
#   tests/slurm/cluster.sh down    stop every daemon this script started (by pid file)
#   tests/slurm/cluster.sh status  what is running
#
# Needs root (apt-get, daemons) and no systemd: munged, slurmctld and slurmd are
# started directly as daemons. Accounting (slurmdbd) is left out on purpose: the
# cluster is like the many sites without it, where the workflow's profile must
# check job status with squeue (hence MinJobAge=300 here).
set -euo pipefail

RUN=/run/gapstudy-slurm
CONF=/etc/slurm/slurm.conf
PIDS=("$RUN/slurmd.pid" "$RUN/slurmctld.pid" "$RUN/munged.pid")

log() { echo "[slurm-cluster] $*" >&2; }

alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
        && command -v sbatch >/dev/null; then
        return
    fi
    log "installing slurmctld, slurmd, slurm-client and munge from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
}

start_munge() {
    if alive "$RUN/munged.pid"; then return; fi
    if [[ ! -s /etc/munge/munge.key ]]; then
        log "creating a munge key"
        mungekey --create --keyfile /etc/munge/munge.key 2>/dev/null \
            || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /etc/munge/munge.key /run/munge /var/log/munge /var/lib/munge
    chmod 0400 /etc/munge/munge.key
    chmod 0755 /run/munge
    log "starting munged"
    runuser -u munge -- munged --pid-file=/run/munge/munged.pid
    for _ in $(seq 50); do [[ -s /run/munge/munged.pid ]] && break; sleep 0.1; done
    cp /run/munge/munged.pid "$RUN/munged.pid"
    munge -n | unmunge >/dev/null
}

write_config() {
    local node memory host
    host=$(hostname -s)
    # The node as slurmd sees it; RealMemory a little below what it reports, so
    # the node is not refused for having less memory than configured.
    node=$(slurmd -C | head -n1)
    memory=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
    node=$(sed "s/RealMemory=[0-9]*/RealMemory=$((memory * 95 / 100))/" <<<"$node")
    mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
    cat >"$CONF.new" <<EOF
# Written by tests/slurm/cluster.sh: a one-node test cluster without accounting.
ClusterName=gapstudy
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
# squeue keeps finished jobs this long; the slurm plugin's squeue status check needs >= 120 s.
MinJobAge=300
MailProg=/bin/true
ReturnToService=2
SlurmdTimeout=300
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF.new" "$CONF"
}

wait_for_node() {
    for _ in $(seq 120); do
        state=$(sinfo --noheader --format=%T 2>/dev/null | head -n1 || true)
        case "$state" in
            idle | mixed | allocated) return 0 ;;
            down* | drain*) scontrol update nodename="$(hostname -s)" state=resume 2>/dev/null || true ;;
        esac
        sleep 1
    done
    log "the node did not come up; see /var/log/slurm/"
    sinfo >&2 || true
    return 1
}

up() {
    [[ $(id -u) == 0 ]] || { log "needs root"; exit 1; }
    mkdir -p "$RUN"
    install_packages
    start_munge
    if ! alive "$RUN/slurmctld.pid" || ! alive "$RUN/slurmd.pid"; then
        write_config
    fi
    if ! alive "$RUN/slurmctld.pid"; then
        log "starting slurmctld"
        slurmctld -i  # -i: ignore state left by an earlier cluster
    fi
    if ! alive "$RUN/slurmd.pid"; then
        log "starting slurmd"
        slurmd
    fi
    wait_for_node
    log "up: $(sinfo --noheader --format='%P %D %c CPUs %m MB %T')"
}

down() {
    for pid in "${PIDS[@]}"; do
        if alive "$pid"; then
            log "stopping $(basename "$pid" .pid) ($(cat "$pid"))"
            kill "$(cat "$pid")"
            for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
            alive "$pid" && kill -9 "$(cat "$pid")"
        fi
        rm -f "$pid"
    done
}

status() {
    for pid in "${PIDS[@]}"; do
        if alive "$pid"; then echo "$(basename "$pid" .pid): running ($(cat "$pid"))"
        else echo "$(basename "$pid" .pid): stopped"; fi
    done
    if alive "$RUN/slurmctld.pid"; then sinfo; fi
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
