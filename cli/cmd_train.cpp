// cxr train: train a classifier end to end (see train/trainer.h for what happens in a run).
//
//   cxr train --data out/synth --arch vgg16 --bn --width 0.25 --size 128 --epochs 10 --out runs/synth
//   cxr train --resume runs/synth            (continue an interrupted run exactly)
#include <cstdio>

#include "cli/command.h"
#include "train/trainer.h"

namespace {

void setup(CLI::App& app) {
  auto cfg = std::make_shared<cxr::TrainConfig>();
  auto resume_dir = std::make_shared<std::string>();
  app.add_option("--data", cfg->data, "Training data: a folder with one sub-folder per class, or a CSV manifest");
  app.add_option("--val", cfg->val, "Validation data (default: the data's own val split, else a patient split)");
  app.add_option("--val-fraction", cfg->val_fraction, "Share of patients held out when the data has no split")
      ->capture_default_str()->check(CLI::Range(0.01, 0.9));
  app.add_option("--exclude-source", cfg->exclude_sources, "Leave out the images of this manifest source, from "
                                                          "training and validation (repeat for more): a "
                                                          "leave-source-out control for shortcuts")
      ->allow_extra_args(false);
  app.add_option("--out", cfg->out, "Run folder: checkpoints, history.csv, config.json");
  app.add_option("--resume", *resume_dir, "Continue the interrupted run in this folder (its saved options apply)");
  app.add_option("--arch", cfg->arch, "vgg11 | vgg13 | vgg16 | vgg19 | seedcnn (vgg16_bn: the same as --bn)")
      ->capture_default_str()->check(cxr::cli::known_model_name());
  app.add_flag("--bn", cfg->batch_norm, "Batch-norm after every convolution (torchvision's vgg*_bn)");
  app.add_option("--width", cfg->width, "Channel multiplier (0.25 is a CPU-friendly VGG)")->capture_default_str()
      ->check(CLI::Range(0.001, 8.0));
  app.add_option("--size", cfg->size, "Input side in pixels, a multiple of 32")->capture_default_str()
      ->check(cxr::cli::multiple_of_32());
  app.add_option("--channels", cfg->channels, "Input channels: 1 (grey) or 3")->capture_default_str()
      ->check(CLI::IsMember({1, 3}));
  app.add_option("--head", cfg->head, "torchvision | gap | gap256")->capture_default_str()
      ->check(CLI::IsMember({"torchvision", "gap", "gap256"}));
  app.add_option("--dropout", cfg->dropout, "Dropout in the classifier")->capture_default_str()
      ->check(CLI::Range(0.0, 0.99));
  app.add_option("--epochs", cfg->epochs, "Epochs (with --resume: a new total)")->capture_default_str()
      ->check(cxr::cli::at_least(1));
  app.add_option("--batch", cfg->batch, "Batch size")->capture_default_str()->check(cxr::cli::at_least(1));
  // --opt and --schedule: parsed into TrainConfig's enums here, once (the check runs before the function).
  app.add_option_function<std::string>("--opt", [cfg](const std::string& s) { cfg->opt = cxr::parse_optimizer(s); },
                                       "adam | adamw | sgd")
      ->default_str(cxr::name(cfg->opt))->check(CLI::IsMember({"adam", "adamw", "sgd"}));
  app.add_option("--lr", cfg->lr, "Learning rate")->capture_default_str();
  app.add_option("--momentum", cfg->momentum, "SGD momentum")->capture_default_str();
  app.add_flag("--nesterov", cfg->nesterov, "Nesterov momentum (SGD)");
  app.add_option("--weight-decay", cfg->weight_decay, "Weight decay (L2 for adam/sgd, decoupled for adamw)")
      ->capture_default_str();
  app.add_option_function<std::string>("--schedule",
                                       [cfg](const std::string& s) { cfg->schedule = cxr::parse_schedule(s); },
                                       "Learning-rate schedule: none | plateau | cosine")
      ->default_str(cxr::name(cfg->schedule))->check(CLI::IsMember({"none", "plateau", "cosine"}));
  app.add_option("--patience", cfg->patience, "Early stopping: epochs without val_loss improvement (0: off)")
      ->capture_default_str();
  app.add_option("--augment", cfg->augment, "xray (Keras-style shift/shear/zoom of the seed notebook) | none")
      ->capture_default_str()->check(CLI::IsMember({"xray", "none"}));
  app.add_option("--normalize", cfg->normalize, "Input normalisation: none | imagenet | half")->capture_default_str()
      ->check(CLI::IsMember({"none", "imagenet", "half"}));
  app.add_flag("--class-weights", cfg->class_weights, "Weight the loss by inverse class frequency");
  app.add_flag("--balanced", cfg->balanced, "Sample classes equally often");
  app.add_option("--label-smoothing", cfg->label_smoothing, "Label smoothing of the loss")->capture_default_str();
  app.add_option("--mixup", cfg->mixup, "Mixup: train on blends of image pairs and their labels, weights from "
                                       "Beta(alpha, alpha); this is alpha, e.g. 0.2 (0: off). Training accuracy "
                                       "then counts the label with the larger weight")
      ->capture_default_str();
  app.add_option("--init", cfg->init, "Start from these weights (e.g. converted torchvision ImageNet VGG-16)");
  app.add_option("--freeze", cfg->freeze, "Freeze a part while training: features")
      ->check(CLI::IsMember({"features"}));
  app.add_option("--seed", cfg->seed, "Random seed (weights, data order, augmentation)")->capture_default_str();
  app.add_option("--workers", cfg->workers, "Data loading threads (0: automatic)")->capture_default_str();
  app.add_flag("--skip-bad", cfg->skip_bad, "Skip unreadable images (warn and count) instead of stopping");
  app.add_flag("--precise-bn", cfg->precise_bn, "Before each validation, recompute batch-norm statistics over the "
                                                "training images without augmentation (steadier val_loss; about "
                                                "a third of an epoch's time)");
  app.add_option("--swa-start", cfg->swa_start, "Stochastic weight averaging: average the weights of this epoch "
                                               "and every later one into RUN_DIR/swa.safetensors, with batch-norm "
                                               "statistics recomputed for the average (0: off). Each averaged "
                                               "epoch costs a batch-norm pass over the training images and a "
                                               "validation more")
      ->capture_default_str();
  app.add_option("--swa-lr", cfg->swa_lr, "Constant learning rate from --swa-start on (0: keep the schedule)")
      ->capture_default_str();
  app.add_flag("--sync-bn", cfg->sync_bn, "Under mpirun: batch-norm uses the statistics of the whole batch over all "
                                          "ranks (then N ranks train what one process trains), not each rank's share");
  app.add_option("--accumulate", cfg->accumulate, "Gradient accumulation: one optimizer step per K batches of "
                                                 "--batch (the update of a batch of K x --batch in the memory of "
                                                 "one; under mpirun one allreduce per K batches)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--bucket-mb", cfg->bucket_mb, "Under mpirun: gradient bucket size in MiB, each reduced while "
                                               "backward goes on (0: one reduction after backward)")
      ->capture_default_str();
  app.add_flag("--profile", cfg->profile, "After each epoch, print where its training time went: compute, waiting "
                                          "for data, waiting for the other ranks (always on under mpirun)");
  app.add_option("--max-steps", cfg->max_steps, "Stop each epoch after this many optimizer steps (0: whole epoch)")
      ->capture_default_str();
  CLI::Option* epochs_opt = app.get_option("--epochs");
  app.callback([cfg, resume_dir, epochs_opt, &app] {
    cxr::install_interrupt_handler();
    cxr::TrainResult r;
    if (!resume_dir->empty()) {
      // The run's saved options apply: say so for each one given now, rather than drop it silently.
      for (const CLI::Option* o : app.get_options())
        if (o->count() > 0 && o->get_name() != "--resume" && o->get_name() != "--epochs" &&
            o->get_name() != "--threads")
          std::fprintf(stderr, "cxr train: %s is ignored with --resume (the run's own %s/config.json applies)\n",
                       o->get_name().c_str(), resume_dir->c_str());
      r = cxr::resume(*resume_dir, epochs_opt->count() > 0 ? cfg->epochs : 0);
    } else {
      if (cfg->data.empty() || cfg->out.empty()) throw CLI::RequiredError("--data and --out");
      // The options' own checks (--lr > 0, --swa-lr needs --swa-start, ...): usage errors, before any data.
      cxr::cli::option_value("", [&] { cxr::validate(*cfg); });
      r = cxr::train(*cfg);
    }
    if (r.interrupted) throw CLI::RuntimeError(cxr::interrupt_exit_code());
  });
}

cxr::cli::Register reg{"train", "Train a classifier (VGG, seed CNN) on a folder or manifest of X-rays", 30, setup, cxr::cli::Ranks::shared};

}  // namespace
