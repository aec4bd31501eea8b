// Which pieces of a release a node holds, verified: one bit per piece. Sent to peers as
// base64 (a 4 GiB release at 4 MiB pieces is 128 bytes).

export class Bitfield {
  readonly bits: Uint8Array

  constructor(
    readonly size: number,
    bits?: Uint8Array,
  ) {
    this.bits = new Uint8Array(Math.ceil(size / 8))
    if (bits) this.bits.set(bits.subarray(0, this.bits.length))
    // Bits past the end are never set, whatever a peer sent.
    for (let i = size; i < this.bits.length * 8; i++) this.clear(i)
  }

  static fromBase64(size: number, text: string): Bitfield {
    return new Bitfield(size, Buffer.from(text, 'base64'))
  }

  has(i: number): boolean {
    return i >= 0 && i < this.size && (this.bits[i >> 3]! & (1 << (i & 7))) !== 0
  }

  set(i: number): void {
    if (i >= 0 && i < this.size) this.bits[i >> 3]! |= 1 << (i & 7)
  }

  clear(i: number): void {
    this.bits[i >> 3]! &= ~(1 << (i & 7))
  }

  count(): number {
    let n = 0
    for (let i = 0; i < this.size; i++) if (this.has(i)) n++
    return n
  }

  complete(): boolean {
    return this.count() === this.size
  }

  missing(): number[] {
    const out: number[] = []
    for (let i = 0; i < this.size; i++) if (!this.has(i)) out.push(i)
    return out
  }

  toBase64(): string {
    return Buffer.from(this.bits).toString('base64')
  }
}
