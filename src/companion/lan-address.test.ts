import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { advertisedHost, defaultRouteInterface, interfaceAddress, lanAddress, multiaddrHost, osSources, type LanAddressSources } from './lan-address.ts';

const HEADER = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT';
const route = (iface: string, destination: string, flags: string, metric: number, mask: string) =>
  `${iface}\t${destination}\t010200C0\t${flags}\t0\t0\t${metric}\t${mask}\t0\t0\t0`;

function address(addr: string, family: 'IPv4' | 'IPv6', internal = false): NetworkInterfaceInfo {
  return {
    address: addr,
    family,
    internal,
    netmask: '',
    mac: '00:00:00:00:00:00',
    cidr: null,
    ...(family === 'IPv6' ? { scopeid: 0 } : {}),
  } as NetworkInterfaceInfo;
}

const INTERFACES = {
  lo: [address('127.0.0.1', 'IPv4', true)],
  eth0: [address('fe80::1', 'IPv6'), address('169.254.3.3', 'IPv4'), address('192.168.1.20', 'IPv4')],
  wlan0: [address('10.0.0.7', 'IPv4')],
};

function sources(table: string | null, probe?: string): LanAddressSources {
  return { routeTable: async () => table, interfaces: () => INTERFACES, routeProbe: async () => probe };
}

describe('lan address', () => {
  it('finds the default route in /proc/net/route: up, destination and mask 0, lowest metric', () => {
    const table = [
      HEADER,
      route('eth0', '000200C0', '0001', 0, '00FFFFFF'), // a subnet, not the default
      route('wlan0', '00000000', '0003', 600, '00000000'),
      route('eth0', '00000000', '0003', 100, '00000000'),
      route('tun0', '00000000', '0002', 0, '00000000'), // not up
    ].join('\n');
    expect(defaultRouteInterface(table)).toBe('eth0');
    expect(defaultRouteInterface([HEADER, route('eth0', '000200C0', '0001', 0, '00FFFFFF')].join('\n'))).toBeUndefined();
    expect(defaultRouteInterface(HEADER)).toBeUndefined();
  });

  it("takes the interface's IPv4 address other machines reach, skipping link-local", () => {
    expect(interfaceAddress('eth0', INTERFACES)).toBe('192.168.1.20');
    expect(interfaceAddress('lo', INTERFACES)).toBeUndefined();
    expect(interfaceAddress('missing', INTERFACES)).toBeUndefined();
  });

  it('reads the routing table first, and probes only where the OS has none', async () => {
    expect(await lanAddress(sources([HEADER, route('wlan0', '00000000', '0003', 0, '00000000')].join('\n'), '192.168.1.20'))).toBe('10.0.0.7');
    expect(await lanAddress(sources(HEADER, '192.168.1.20'))).toBeUndefined(); // no default route: loopback is printed
    expect(await lanAddress(sources(null, '192.168.1.20'))).toBe('192.168.1.20');
  });

  it("reads this machine's routing table, and a UDP route probe agrees with it", async () => {
    const table = await osSources.routeTable();
    const iface = table === null ? undefined : defaultRouteInterface(table);
    const found = await lanAddress();
    expect(found).toBe(iface === undefined ? undefined : interfaceAddress(iface, osSources.interfaces()));
    expect(await osSources.routeProbe()).toBe(found);
  });

  it('prints the public host, else a wildcard bind as the LAN address, else the bind host', () => {
    expect(advertisedHost('0.0.0.0', '', '192.168.1.20')).toBe('192.168.1.20');
    expect(advertisedHost('0.0.0.0', '', undefined)).toBe('127.0.0.1');
    expect(advertisedHost('::', '', undefined)).toBe('[::1]');
    expect(advertisedHost('0.0.0.0', 'mybox.lan', '192.168.1.20')).toBe('mybox.lan');
    expect(advertisedHost('127.0.0.1', 'fd00::5', undefined)).toBe('[fd00::5]');
    expect(advertisedHost('192.168.1.4', '', '192.168.1.20')).toBe('192.168.1.4');
    expect(advertisedHost('::1', '', undefined)).toBe('[::1]');
  });

  it('names a host in a multiaddr by its kind', () => {
    expect(multiaddrHost('192.168.1.20')).toBe('/ip4/192.168.1.20');
    expect(multiaddrHost('[fd00::5]')).toBe('/ip6/fd00::5');
    expect(multiaddrHost('mybox.lan')).toBe('/dns/mybox.lan');
  });
});
