// mqtt-packet (the MQTT codec under aedes and mqtt.js) keeps, by default, a cache
// of 65,536 two-byte Buffers, one per 16-bit number it may write: about 6 MiB of
// heap that stays for the life of the process, one tenth of a Pi Zero 2 W's budget
// for the whole gateway. Without it each packet id or length is written from a
// fresh 2-byte slice of Node's buffer pool, which costs no measurable throughput
// (scripts/bench/bridge.ts, docs/benchmarks.md). Imported for its effect, first.
import mqttPacket from 'mqtt-packet';

mqttPacket.writeToStream.cacheNumbers = false;
