// Types for the parts of build-kernels.mjs that src/ uses (plain JavaScript, so that the install
// can run it before anything is built).
/** Where the build puts the native kernels' addon. */
export declare const kernelsAddon: string;
