// Checks of one area's pages, run by dashboard.mjs with its tabs, sign-in and checks.
export async function run({ BASE, SHOTS, env, check, tab, signIn, settle }) {}
