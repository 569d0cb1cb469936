import type { Command } from './command.js';
import { embedCommand } from './embed.js';
import { evaluateCommand } from './evaluate.js';
import { faqAskCommand, faqBuildCommand, faqCalibrateCommand } from './faq.js';
import { finetuneCommand } from './finetune.js';
import { monitorCommand } from './monitor.js';
import { predictCommand } from './predict.js';
import { rankEvaluateCommand, rankScoreCommand, rankTrainCommand } from './rank.js';
import { pretrainCommand } from './pretrain.js';
import { indexBuildCommand, indexQueryCommand } from './search-index.js';

// In the order --help lists them.
export const COMMANDS: Record<string, Command> = {
  pretrain: pretrainCommand,
  finetune: finetuneCommand,
  evaluate: evaluateCommand,
  predict: predictCommand,
  monitor: monitorCommand,
  // Subcommands: `bertorch rank train` runs the command named 'rank train'.
  'rank train': rankTrainCommand,
  'rank evaluate': rankEvaluateCommand,
  'rank score': rankScoreCommand,
  embed: embedCommand,
  'index build': indexBuildCommand,
  'index query': indexQueryCommand,
  'faq build': faqBuildCommand,
  'faq ask': faqAskCommand,
  'faq calibrate': faqCalibrateCommand,
};
