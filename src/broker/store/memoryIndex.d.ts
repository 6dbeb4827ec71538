// aedes-persistence's in-memory persistence, used as the subscription index
// (subscriptionStore.ts); the package declares types for its main entry only.
declare module 'aedes-persistence/asyncPersistence.js' {
  const MemoryPersistence: new () => unknown;
  export default MemoryPersistence;
}
