// Types for the parts of setup-tensorflow.mjs that src/ uses (the script stays plain JavaScript so
// the workspace's postinstall can run it before anything is built).
export declare function cacheRoot(env?: NodeJS.ProcessEnv): string;
export declare function linkedBuild(tfjsNodeDir?: string): string | undefined;
export declare function readManifest(buildDir: string): { variant?: string; tensorflow?: string } | undefined;
