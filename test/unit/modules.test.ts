import test from 'ava';
import { loadOrder } from '../../images/modules.js';

const dep = `kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
`;

test('dependencies load before the module that needs them', (t) => {
  t.deepEqual(loadOrder(dep, '', ['virtio_pci', 'virtio_net']), [
    'kernel/drivers/virtio/virtio_pci_modern_dev.ko',
    'kernel/drivers/virtio/virtio_pci.ko',
    'kernel/net/core/failover.ko',
    'kernel/drivers/net/net_failover.ko',
    'kernel/drivers/net/virtio_net.ko',
  ]);
});

test('a built-in module is skipped, compressed names resolve', (t) => {
  const xz = 'kernel/drivers/net/virtio_net.ko.xz:\n';
  t.deepEqual(loadOrder(xz, 'kernel/drivers/virtio/virtio_pci.ko\n', ['virtio_pci', 'virtio_net']), ['kernel/drivers/net/virtio_net.ko.xz']);
});

test('a module the kernel lacks is an error naming it', (t) => {
  t.throws(() => loadOrder('', '', ['virtio_net']), { message: /no virtio_net/ });
});
