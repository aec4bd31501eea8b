import { z } from 'zod'

// Content ids shared by every layer: a sha256 written as 64 lower-case hex characters
// (netboot images and artifacts, release pieces, boot slots' contents).

export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 is 64 lower-case hex characters')
