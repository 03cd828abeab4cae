/**
 * Pulls fenced blocks out of README.md, e.g. the API tour: the ```ts block after `<!-- tour:code -->` and the ```text
 * block after `<!-- tour:output -->`. The code imports 'int8-linear'; tests run it against src/.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const README = fileURLToPath(new URL('../../README.md', import.meta.url));

export function block(markdown: string, marker: string, lang: string): string {
  const at = markdown.indexOf(`<!-- ${marker} -->`);
  if (at < 0) throw new Error(`README.md has no <!-- ${marker} --> marker`);
  const open = markdown.indexOf('```' + lang + '\n', at);
  const close = markdown.indexOf('\n```', open + 4 + lang.length);
  if (open < 0 || close < 0) throw new Error(`README.md: no \`\`\`${lang} block after <!-- ${marker} -->`);
  return markdown.slice(open + 4 + lang.length, close + 1);
}

export function readme(): string {
  return readFileSync(README, 'utf8');
}

export function tour(): { code: string; output: string } {
  const md = readme();
  return { code: block(md, 'tour:code', 'ts'), output: block(md, 'tour:output', 'text') };
}
