// etcdctl -w json prints 64-bit ids (member, cluster, lease) as bare JSON numbers,
// which JSON.parse silently rounds (2^53 < 2^64). This parser quotes every integer
// literal too long to be exact before parsing, so ids arrive as strings of digits.

/** Integers with more digits than this may not be exact as a JS number. */
export const exactIntegerDigitsMax = 15

/** JSON.parse, except integer literals longer than 15 digits become strings. */
export function parseJsonKeepingBigInts(text: string): unknown {
  return JSON.parse(quoteLongIntegers(text))
}

/** Rewrites the text, quoting long integer literals outside strings; everything else is kept. */
export function quoteLongIntegers(text: string): string {
  let out = ''
  let i = 0
  while (i < text.length) {
    const ch = text[i]!
    if (ch === '"') {
      const end = endOfString(text, i)
      out += text.slice(i, end)
      i = end
    } else if (ch === '-' || (ch >= '0' && ch <= '9')) {
      const end = endOfNumber(text, i)
      const literal = text.slice(i, end)
      const digits = literal.startsWith('-') ? literal.slice(1) : literal
      out += /^\d+$/.test(digits) && digits.length > exactIntegerDigitsMax ? `"${literal}"` : literal
      i = end
    } else {
      out += ch
      i++
    }
  }
  return out
}

function endOfString(text: string, start: number): number {
  let i = start + 1
  while (i < text.length) {
    const ch = text[i]
    if (ch === '\\') i += 2
    else if (ch === '"') return i + 1
    else i++
  }
  return text.length
}

function endOfNumber(text: string, start: number): number {
  let i = start + 1
  while (i < text.length && /[0-9eE+\-.]/.test(text[i]!)) i++
  return i
}
