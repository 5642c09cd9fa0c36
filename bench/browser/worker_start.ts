// Imported first by the bench worker, so it runs before the rest of the bundle's modules:
// when the worker's code started running (performance.now of the worker).
export const evalStart = performance.now();
