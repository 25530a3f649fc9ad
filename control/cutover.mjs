#!/usr/bin/env node
// The published entry point: TypeScript sources run through tsx's loader, so
// `npx cutover` works straight after `npm ci` with no build step.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('./cli.ts');
await main(process.argv);
