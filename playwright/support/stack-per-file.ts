// The hooks a spec file uses when all its tests share one `npm start` stack: started before the
// first test, stopped after the last, and its log attached to any test that fails (the stack's
// stderr is usually where the reason is).
import { test } from '@playwright/test';
import { startStack, type Stack, type StackOptions } from './stack.ts';

/** Registers the hooks; the returned function gives the running stack inside a test. */
export function stackPerFile(options: StackOptions = {}): () => Stack {
  let stack: Stack | undefined;
  test.beforeAll(async () => {
    stack = await startStack(options);
  });
  test.afterAll(async () => {
    await stack?.stop();
  });
  test.afterEach(async ({}, testInfo) => {
    if (stack && testInfo.status !== testInfo.expectedStatus) await testInfo.attach('npm-start.log', { body: stack.log(), contentType: 'text/plain' });
  });
  return () => {
    if (!stack) throw new Error('the npm start stack is not running (did beforeAll fail?)');
    return stack;
  };
}
