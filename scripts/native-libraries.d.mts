// Types of native-libraries.mjs (plain JavaScript so that bootstrap runs on Node 20).
export declare const LAVAPIPE_DRIVER: string;
export declare const NATIVE_LIBRARIES: readonly { file: string; dlopens: readonly string[] }[];
export declare const LIBRARY_PACKAGES: Readonly<Record<string, string>>;
export declare function notFound(lddOutput: string): string[];
export declare function cachedLibraries(): Set<string>;
export declare function missingLibraries(file: string, dlopens?: readonly string[], cached?: Set<string>): string[];
export declare function describeLibrary(name: string): string;
