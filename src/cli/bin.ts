import { main } from './main.js';

// A reader that stops early (`int8-linear inspect f | head`) closes the pipe: that ends the output,
// it is not an error, so exit quietly (with the code so far) instead of dying on an unhandled EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  });
}

process.exitCode = await main(process.argv.slice(2));
