import test from 'ava';
import { guestModulesDep, loadOrder, loadsUnsigned, withoutSignature } from '../../images/modules.js';

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

test('the guest modules.dep names each shipped module where the guest finds it, dependencies after it', (t) => {
  const order = loadOrder(dep, '', ['virtio_net']);
  const at = (rel: string) => (rel.includes('failover') ? `/opt/node/modules/${rel.split('/').pop()}` : rel.split('/').pop()!);
  t.is(
    guestModulesDep(dep, order, at),
    [
      '/opt/node/modules/failover.ko:',
      '/opt/node/modules/net_failover.ko: /opt/node/modules/failover.ko',
      'virtio_net.ko: /opt/node/modules/net_failover.ko /opt/node/modules/failover.ko',
      '',
    ].join('\n'),
  );
});

test('a module signature comes off whole; an unsigned module stays as it is', (t) => {
  const body = Buffer.from('\x7fELF module body');
  const sig = Buffer.alloc(40, 7);
  const info = Buffer.alloc(12);
  info.writeUInt32BE(sig.length, 8);
  const signed = Buffer.concat([body, sig, info, Buffer.from('~Module signature appended~\n')]);
  t.deepEqual(withoutSignature(signed), body);
  t.deepEqual(withoutSignature(body), body);
});

test('unsigned modules only where the config is known and neither forces signatures nor locks down', (t) => {
  t.true(loadsUnsigned('CONFIG_MODULE_SIG=y\n# CONFIG_MODULE_SIG_FORCE is not set\n'));
  t.false(loadsUnsigned('CONFIG_MODULE_SIG=y\nCONFIG_MODULE_SIG_FORCE=y\n'));
  t.false(loadsUnsigned('CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY=y\n'));
  t.false(loadsUnsigned(null));
});
