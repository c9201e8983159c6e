export declare function bundleGradients(options?: { force?: boolean }): Promise<string>;
