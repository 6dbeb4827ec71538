// The tokens of the EMQX JWT documentation seed (../shared/seeds/emqx-jwt-auth.md).
import { hs256WithNodeCrypto } from '../../helpers/tokens.js';

/** The token exactly as ../shared/seeds/emqx-jwt-auth.md prints it. */
export const EMQX_DOC_TOKEN =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.' +
  'eyJkYXRhIjp7ImF1dGhvciI6IndpdndpdiIsInNpdGUiOiJodHRwczovL3dpdndpdi5jb20ifSwiZXhwIjoxNTgyMjU1MzYwNjQyMDAwMCwiaWF0IjoxNTgyMjU1MzYwfQ.' +
  'FdyAx2fYahm6h3g47m88ttyINzptzKy_speimyUcma4';
/** The same header and claims, signed the same way, with an ordinary exp (2100-01-01). */
export const SEED_TOKEN = hs256WithNodeCrypto(
  'emqxsecret',
  { data: { author: 'wivwiv', site: 'https://wivwiv.com' }, exp: 4_102_444_800, iat: 1582255360 },
  { alg: 'HS256', typ: 'JWT' },
);
