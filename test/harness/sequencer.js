const Sequencer = require('@jest/test-sequencer').default;

const tier = (path) => (path.includes('/test/unit/') ? 0 : path.includes('/test/workflow/') ? 1 : 2);

class TierSequencer extends Sequencer {
  sort(tests) {
    return [...tests].sort((a, b) => tier(a.path) - tier(b.path) || a.path.localeCompare(b.path));
  }
}

module.exports = TierSequencer;
