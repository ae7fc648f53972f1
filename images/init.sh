#!/bin/sh
# mmatrix guest /init: mounts (node's disk, hugetlbfs per page size, the scratch ext4 disk late),
# virtio-net, QEMU user networking, the hugepage pool and THP mode from the kernel command
# line (mmatrix.hugepages=N mmatrix.thp=MODE; a 1 GiB pool comes from the kernel's own
# hugepagesz=1G hugepages=N), then dropbear. Each step prints one "mmatrix:" line on the console.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
# A builtin read, not $(cut …): under TCG every fork and exec costs milliseconds.
say() { read -r up _ < /proc/uptime; echo "mmatrix: $* @$up"; }
say "init"
while read -r m; do
  insmod "$m" || say "insmod $m failed"
done < /etc/modules.order
say "modules loaded"
mkdir -p /opt/node
mount -t squashfs -o ro /dev/vda /opt/node && ln -s /opt/node/node /usr/bin/node || say "node disk mount failed"
ip link set lo up
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2 || say "network setup failed"
say "network up"
hugepages=0
thp=madvise
read -r cmdline < /proc/cmdline
for arg in $cmdline; do
  case "$arg" in
    mmatrix.hugepages=*) hugepages="${arg#*=}" ;;
    mmatrix.thp=*) thp="${arg#*=}" ;;
  esac
done
mkdir -p /mnt/huge
mount -t hugetlbfs hugetlbfs /mnt/huge || say "hugetlbfs mount failed"
if [ -d /sys/kernel/mm/hugepages/hugepages-1048576kB ]; then
  mkdir -p /mnt/huge1g
  mount -t hugetlbfs -o pagesize=1G hugetlbfs /mnt/huge1g || say "1 GiB hugetlbfs mount failed"
fi
say "hugetlbfs mounted"
[ -w /proc/sys/vm/nr_hugepages ] && echo "$hugepages" > /proc/sys/vm/nr_hugepages
[ -w /sys/kernel/mm/transparent_hugepage/enabled ] && echo "$thp" > /sys/kernel/mm/transparent_hugepage/enabled
say "hugepages requested=$hugepages obtained=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0) 1G=$(cat /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages 2>/dev/null || echo 0)"
dropbear -r /etc/dropbear/host_key -s -g -p 22 -P /run/dropbear.pid -E 2>>/tmp/dropbear.log
say "sshd started"
# The scratch ext4 disk is not needed before SSH: its modules (on node's disk) load and it
# mounts in the background, at the lowest priority, so that it takes the one CPU only when
# dropbear does not want it; the suites wait for /run/mmatrix-ext4.done before they look for it.
scratch() {
  while read -r m; do
    insmod "$m" || say "insmod $m failed"
  done < /etc/modules.late
  if [ -b /dev/vdb ]; then
    mkdir -p /mnt/ext4
    mount -t ext4 /dev/vdb /mnt/ext4 || say "scratch ext4 mount failed"
  fi
  say "scratch disk ready"
  touch /run/mmatrix-ext4.done
}
scratch &
renice 19 -p $! >/dev/null
while :; do sleep 3600; done
