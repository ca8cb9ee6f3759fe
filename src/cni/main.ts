// The CNI front end; the full protocol edge arrives with the CNI work. VERSION only for now.
const SUPPORTED = ['0.3.1', '0.4.0', '1.0.0', '1.1.0'];
if (process.env.CNI_COMMAND === 'VERSION') {
  process.stdout.write(
    JSON.stringify({ cniVersion: '1.1.0', supportedVersions: SUPPORTED }) + '\n',
  );
} else {
  process.stdout.write(
    JSON.stringify({ cniVersion: '1.1.0', code: 4, msg: 'unsupported CNI_COMMAND' }) + '\n',
  );
  process.exitCode = 1;
}
