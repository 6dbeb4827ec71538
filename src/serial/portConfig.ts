// Topic templates of a serial port. They are part of the configuration's contract
// and its validation, so they live in config/serialPorts.ts (config imports
// nothing from serial/); re-exported here for the serial code.
export { expandTopic } from '../config/serialPorts.js';
