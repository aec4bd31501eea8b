import { connect } from 'node:net'
import { HomecloudError } from '../../core/errors.js'

// One UAPI exchange with wireguard-go over its unix socket: send a message, read until the
// blank line that ends the answer. Bounded in size and time.

const answerBytesMax = 1024 * 1024

export function wireguardSocketPath(iface: string): string {
  return `/var/run/wireguard/${iface}.sock`
}

export function uapiExchange(socketPath: string, message: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath)
    let text = ''
    const fail = (why: string) => {
      sock.destroy()
      reject(
        new HomecloudError(
          'PODNET_FAILED',
          `wireguard-go at ${socketPath}: ${why}`,
          'look at the wireguard-go lines in the agent log; is /dev/net/tun there?',
        ),
      )
    }
    sock.setTimeout(timeoutMs, () => fail('no answer'))
    sock.on('error', (err) => fail(err.message))
    sock.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8')
      if (text.length > answerBytesMax) return fail('answer too large')
      if (text.endsWith('\n\n')) {
        sock.end()
        const errno = /(?:^|\n)errno=(-?\d+)\n/.exec(text)?.[1]
        if (errno !== undefined && errno !== '0') return fail(`errno=${errno} for ${message.split('\n')[0]}`)
        resolve(text)
      }
    })
    sock.write(message)
  })
}
