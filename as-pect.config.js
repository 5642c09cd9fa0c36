// as-pect runs the kernel's unit tests: each spec is compiled with the kernel sources it
// imports into one test module (its own memory; kmem grows it like the real kernel does).
export default {
  entries: ["assembly/__tests__/**/*.spec.ts"],
  include: ["assembly/__tests__/**/*.include.ts"],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    return instantiate(binary, createImports({ env: { memory } }));
  },
  outputBinary: false,
};
