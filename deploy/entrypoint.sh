#!/bin/sh
# Thread counts from the container's CPU limit (cgroup v2 cpu.max, else v1 quota), not the host's cores:
# TensorFlow and OpenMP would otherwise start one thread per host core and fight over a 1-2 CPU limit.
set -eu
cpus=""
if [ -r /sys/fs/cgroup/cpu.max ]; then
  read -r quota period < /sys/fs/cgroup/cpu.max
  [ "$quota" != "max" ] && cpus=$(( (quota + period - 1) / period ))
elif [ -r /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
  quota=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us); period=$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)
  [ "$quota" -gt 0 ] && cpus=$(( (quota + period - 1) / period ))
fi
[ -n "$cpus" ] || cpus=$(nproc)
[ "$cpus" -ge 1 ] || cpus=1
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$cpus}"
export TF_NUM_INTRAOP_THREADS="${TF_NUM_INTRAOP_THREADS:-$cpus}"
export TF_NUM_INTEROP_THREADS="${TF_NUM_INTEROP_THREADS:-$(( cpus > 1 ? 2 : 1 ))}"
exec "$@"
