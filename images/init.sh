#!/bin/sh
# mmatrix guest /init: mounts (etc/fstab.early, then etc/fstab once the modules are in: node's
# disk, hugetlbfs per page size), virtio-net for QEMU user networking, the hugepage pool and THP
# mode from the kernel command line (mmatrix.hugepages=N mmatrix.thp=MODE; a 1 GiB pool comes
# from the kernel's own hugepagesz=1G hugepages=N), then dropbear; the rest in the background.
# Each step prints one "mmatrix:" line on the console.
# Under TCG a fork costs milliseconds and an exec more: shell builtins where they do, one
# `mount -a` per fstab, one modprobe per module set, and busybox applets that run without an
# exec (ip, mkdir, modprobe) rather than those that need one (ifconfig, mount, cat).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -i -a -T /etc/fstab.early
say() { read -r up _ < /proc/uptime; echo "mmatrix: $* @$up"; }
say "init"
read -r mods < /etc/modules.early
[ -z "$mods" ] || modprobe -a $mods || say "modprobe $mods failed"
say "modules loaded"
mkdir /dev/pts /dev/shm
[ -d /sys/kernel/mm/hugepages/hugepages-1048576kB ] && echo "hugetlbfs /mnt/huge1g hugetlbfs pagesize=1G 0 0" >> /etc/fstab
mount -i -a || say "mount -a failed"
say "mounted"
ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up || say "network setup failed"
say "network up"
hugepages=0
thp=madvise
snapshot=0
read -r cmdline < /proc/cmdline
for arg in $cmdline; do
  case "$arg" in
    mmatrix.hugepages=*) hugepages="${arg#*=}" ;;
    mmatrix.thp=*) thp="${arg#*=}" ;;
    mmatrix.snapshot=*) snapshot="${arg#*=}" ;;
  esac
done
[ -w /proc/sys/vm/nr_hugepages ] && echo "$hugepages" > /proc/sys/vm/nr_hugepages
[ -w /sys/kernel/mm/transparent_hugepage/enabled ] && echo "$thp" > /sys/kernel/mm/transparent_hugepage/enabled
# khugepaged's periodic scans once an hour instead of every 10 s: a collapse in the middle of a
# case would be khugepaged's doing, not the case's (the harness runs such a case again).
khp=/sys/kernel/mm/transparent_hugepage/khugepaged
[ -w $khp/scan_sleep_millisecs ] && echo 3600000 > $khp/scan_sleep_millisecs && echo 3600000 > $khp/alloc_sleep_millisecs
dropbear -r /etc/dropbear/host_key -s -g -p 22 -P /run/dropbear.pid -E 2>>/tmp/dropbear.log
say "sshd started"
# A guest booted to be snapshotted (runner/snapshot.ts) starts node once, so that the snapshot
# holds the pages node reads, and stops here: QEMU saves it, and each guest restored from it
# goes on from here once the runner writes the time (seconds since the epoch) into the FIFO.
# The scratch and swap disks are first written below, after the snapshot.
if [ "$snapshot" = 1 ]; then
  node -e 0 || say "node failed"
  mkfifo /run/mmatrix.go
  say "snapshot point"
  read -r now < /run/mmatrix.go
  date -s "@$now" >/dev/null || say "setting the time failed"
  say "resumed"
fi
# Nothing before SSH needs the rest: loopback, a default route, the pool's report (cat: sysctl
# files return nothing at a non-zero offset, and read takes a byte at a time), the scratch
# ext4 disk and the swap disk. It runs at the lowest
# priority, so that it takes the one CPU only when nothing else wants it; the suites wait for
# /run/mmatrix-ext4.done before they look for the ext4 disk.
late() {
  ip link set lo up
  ip route add default via 10.0.2.2 || say "default route failed"
  say "hugepages requested=$hugepages obtained=$(cat /proc/sys/vm/nr_hugepages) 1G=$(cat /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages 2>/dev/null || echo 0)"
  read -r mods < /etc/modules.late
  [ -z "$mods" ] || modprobe -a $mods || say "modprobe $mods failed"
  if [ -b /dev/vdb ]; then
    mount -t ext4 /dev/vdb /mnt/ext4 || say "scratch ext4 mount failed"
  fi
  if [ -b /dev/vdc ]; then
    swapon /dev/vdc || say "swapon failed"
  fi
  say "scratch disk ready"
  touch /run/mmatrix-ext4.done
}
late &
renice 19 -p $! >/dev/null
while :; do sleep 3600; done
