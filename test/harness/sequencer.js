const Sequencer = require('@jest/test-sequencer').default;

const TIERS = ['/test/unit/', '/test/workflow/', '/test/integration/', '/test/docker/', '/test/chaos/', '/test/final/'];
const tier = (path) => TIERS.findIndex((t) => path.includes(t));

class TierSequencer extends Sequencer {
  sort(tests) {
    return [...tests].sort((a, b) => tier(a.path) - tier(b.path) || a.path.localeCompare(b.path));
  }
}

module.exports = TierSequencer;
