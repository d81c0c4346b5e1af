/**
 * Secrets, set once per stage with `npx sst secret set <Name> <value> --stage <stage>`.
 * The runner gets them from SSM Parameter Store (SecureString) through the task definition's
 * `secrets`, so they never appear in the task definition's plain environment.
 */
export const hfToken = new sst.Secret("HfToken");
export const runnerSecret = new sst.Secret("RunnerSecret");

const prefix = `/${$app.name}/${$app.stage}`;

export const hfTokenParameter = new aws.ssm.Parameter("HfTokenParameter", {
  name: `${prefix}/HF_TOKEN`,
  type: "SecureString",
  value: hfToken.value,
});

export const runnerSecretParameter = new aws.ssm.Parameter("RunnerSecretParameter", {
  name: `${prefix}/RUNNER_SECRET`,
  type: "SecureString",
  value: runnerSecret.value,
});
