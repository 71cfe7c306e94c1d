using UNetCluster.Data.Tiling;
using UNetCluster.Model.Modules;
using static TorchSharp.torch;

namespace UNetCluster.Model.Inference;

/// <summary>
/// The paper's overlap-tile strategy: an image of any size is predicted tile by tile; each tile's input is larger
/// than the part it predicts (the valid convolutions' context), the image border is extrapolated by mirroring, and
/// the predicted parts tile the image seamlessly. Tiles run in batches.
/// </summary>
public sealed class OverlapTilePredictor
{
    /// <summary>Tiles per forward pass unless a caller asks for another number.</summary>
    public const int DefaultBatchSize = 4;

    private readonly UNet _model;

    /// <param name="model">The network (switched to eval mode while predicting), on any device and in fp32 or bf16: tiles are
    /// cast to its parameters' precision and device, and probabilities come back as fp32 on the host.</param>
    /// <param name="tileSize">Input tile size; must be valid for the model (see <see cref="TileGeometry"/>).</param>
    /// <param name="batchSize">Tiles per forward pass.</param>
    /// <param name="blockSize">Output pixels a block spans at most along each side (at least one tile): tiles are predicted
    /// and batched block by block (<see cref="Blocks"/>), so that a block predicted alone, on another machine, gives the
    /// bytes the whole image gives.</param>
    public OverlapTilePredictor(UNet model, int tileSize, int batchSize = DefaultBatchSize, int blockSize = DefaultBlockSize)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        _model = model;
        TileSize = tileSize;
        BatchSize = batchSize;
        TileGeometry.RequireValid(model.Options, tileSize, "prediction tile size");
        StrideSize = StrideFor(model.Options, tileSize);
        Margin = (tileSize - StrideSize) / 2;
        BlockTiles = Math.Max(1, blockSize / StrideSize);
    }

    /// <summary>Output pixels a block spans along each side unless a caller asks for another number (see <see cref="Blocks"/>).</summary>
    public const int DefaultBlockSize = 2048;

    /// <summary>Tiles along each side of a block (<see cref="Blocks"/>).</summary>
    public int BlockTiles { get; }

    public int TileSize { get; }

    public int BatchSize { get; }

    /// <summary>The side of the part of each tile that is kept: the valid output size for unpadded convolutions.</summary>
    public int StrideSize { get; }

    /// <summary>Context on each side of the kept part.</summary>
    public int Margin { get; }

    /// <summary>
    /// Class probabilities (Classes, H, W) averaged over the 8 flips and 90-degree rotations of the image (test-time
    /// augmentation, as nnU-Net's mirroring): each view is predicted and turned back before averaging, at 8 times the
    /// cost of <see cref="PredictProbabilities"/>.
    /// </summary>
    public Tensor PredictProbabilitiesAugmented(Tensor image)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var scope = NewDisposeScope();
        Tensor? sum = null;
        foreach (var flip in new[] { false, true })
        {
            for (var turns = 0; turns < 4; turns++)
            {
                var view = rot90(flip ? image.flip(-1) : image, turns, (-2, -1)).contiguous();        // (C, H', W')
                var back = rot90(PredictProbabilities(view), -turns, (-2, -1));                      // (Classes, H, W)
                back = flip ? back.flip(-1) : back;
                sum = sum is null ? back.clone() : sum.add_(back);
            }
        }

        return sum!.div_(8).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The side of the kept part of a tile of <paramref name="tileSize"/> (see <see cref="StrideSize"/>): the valid
    /// output; with same padding, which sees zeros at a tile's border, the centre, an eighth of the tile kept as context.
    /// </summary>
    public static int StrideFor(UNetOptions options, int tileSize)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Padding == ConvPadding.Valid
            ? TileGeometry.OutputSize(options, tileSize) ?? 0
            : tileSize - (2 * (tileSize / 8));
    }

    /// <summary>
    /// The smallest valid tile whose kept part covers an image of side <paramref name="largestSide"/> whole: a larger
    /// tile predicts only mirrored border and costs memory for nothing. The largest valid tile when none covers it.
    /// </summary>
    public static int LargestUsefulTileSize(UNetOptions options, long largestSide)
    {
        ArgumentNullException.ThrowIfNull(options);
        int? largestValid = null;
        for (var size = TileGeometry.MinimumInputSize(options); size <= TileGeometry.MaximumInputSize; size++)
        {
            if (!TileGeometry.IsValidInputSize(options, size))
            {
                continue;
            }

            if (StrideFor(options, size) >= largestSide)
            {
                return size;
            }

            largestValid = size;
        }

        return largestValid ?? TileGeometry.MinimumInputSize(options);
    }

    /// <summary>
    /// Refuses, with an <see cref="ArgumentException"/> naming <paramref name="optionName"/> and the largest accepted
    /// value, a tile larger than images of <paramref name="height"/> x <paramref name="width"/> need (when
    /// <paramref name="explicitTile"/>: a default tile is simply more than needed), or whose estimated memory for a batch
    /// (<see cref="MemoryEstimate.InferenceBytes"/>) exceeds <paramref name="memoryBytes"/>.
    /// </summary>
    public static void RequireTileFits(UNetOptions options, int tileSize, int height, int width, long memoryBytes, bool explicitTile,
        string optionName = "--tile", int batchSize = DefaultBatchSize)
    {
        ArgumentNullException.ThrowIfNull(options);
        var useful = LargestUsefulTileSize(options, Math.Max(height, width));
        if (explicitTile && tileSize > useful)
        {
            var why = StrideFor(options, useful) >= Math.Max(height, width)
                ? $"is larger than needed: the largest image ({width} x {height}) is predicted in one tile of {useful}"
                : $"is larger than the largest tile accepted ({TileGeometry.MaximumInputSize})";
            throw new ArgumentException($"{optionName} {tileSize} {why}; expected a valid {optionName} of at most {useful}.", optionName);
        }

        TileGeometry.RequireValid(options, tileSize, optionName);

        long Bytes(int size)
        {
            var stride = StrideFor(options, size);
            var tiles = ((height + stride - 1L) / stride) * ((width + stride - 1L) / stride);
            return MemoryEstimate.InferenceBytes(options, size, (int)Math.Min(batchSize, tiles));
        }

        if (Bytes(tileSize) <= memoryBytes)
        {
            return;
        }

        int? largest = null;
        for (var size = tileSize - 1; size >= 1 && largest is null; size--)
        {
            if (TileGeometry.IsValidInputSize(options, size) && Bytes(size) <= memoryBytes)
            {
                largest = size;
            }
        }

        throw new ArgumentException(
            $"{optionName} {tileSize} needs about {MemoryEstimate.Describe(Bytes(tileSize))} for a batch of tiles, more than the " +
            $"{MemoryEstimate.Describe(memoryBytes)} allowed; expected a valid {optionName} of at most " +
            (largest is { } l ? $"{l}." : $"{TileGeometry.MinimumInputSize(options)}, and even that does not fit."), optionName);
    }

    /// <summary>
    /// The blocks an image of <paramref name="height"/> x <paramref name="width"/> is predicted in, row-major: runs of at
    /// most <see cref="BlockTiles"/> x <see cref="BlockTiles"/> output tiles of the image's tile grid (tile (r, c) predicts
    /// the pixels from (r, c) x <see cref="StrideSize"/>). An image that fits one block is one block.
    /// </summary>
    public IReadOnlyList<TileBlock> Blocks(long height, long width)
    {
        var rows = (int)((height + StrideSize - 1) / StrideSize);
        var columns = (int)((width + StrideSize - 1) / StrideSize);
        var blocks = new List<TileBlock>();
        for (var row = 0; row < rows; row += BlockTiles)
        {
            for (var column = 0; column < columns; column += BlockTiles)
            {
                var block = new TileBlock(row, column, Math.Min(BlockTiles, rows - row), Math.Min(BlockTiles, columns - column), 0, 0, 0, 0);
                blocks.Add(block with
                {
                    Top = (long)row * StrideSize,
                    Left = (long)column * StrideSize,
                    Height = Math.Min((long)block.Rows * StrideSize, height - ((long)row * StrideSize)),
                    Width = Math.Min((long)block.Columns * StrideSize, width - ((long)column * StrideSize)),
                });
            }
        }

        return blocks;
    }

    /// <summary>Class probabilities (Classes, H, W) for an image (C, H, W) of any size, predicted block by block (<see cref="Blocks"/>).</summary>
    public Tensor PredictProbabilities(Tensor image)
    {
        RequireImage(image);
        var blocks = Blocks(image.shape[1], image.shape[2]);
        if (blocks.Count == 1)
        {
            return PredictBlock(image, blocks[0]);
        }

        using var scope = NewDisposeScope();
        var canvas = zeros(_model.Options.Classes, image.shape[1], image.shape[2]);
        foreach (var block in blocks)
        {
            using var part = PredictBlock(image, block);
            canvas.narrow(1, block.Top, block.Height).narrow(2, block.Left, block.Width).copy_(part);
        }

        return canvas.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Class probabilities (Classes, <see cref="TileBlock.Height"/>, <see cref="TileBlock.Width"/>) of one block of the
    /// whole image (C, H, W): the block's tiles, their context cut out of the image with the image's own mirrored
    /// border, in batches of <see cref="BatchSize"/> in row-major order. Equal, bit for bit, to that region of
    /// <see cref="PredictProbabilities"/>, which predicts every block this way.
    /// </summary>
    public Tensor PredictBlock(Tensor image, TileBlock block)
    {
        RequireImage(image);
        ArgumentNullException.ThrowIfNull(block);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var wasTraining = _model.training;
        _model.eval();
        try
        {
            // The block's tiles with their context: the image's pixels, mirrored beyond its border (MirrorPadding).
            var window = MirrorPadding.Crop(
                image,
                checked((int)(block.Top - Margin)),
                checked((int)(block.Left - Margin)),
                ((block.Rows - 1) * StrideSize) + TileSize,
                ((block.Columns - 1) * StrideSize) + TileSize);

            var origins = new List<(long Y, long X)>();
            for (long row = 0; row < block.Rows; row++)
            {
                for (long column = 0; column < block.Columns; column++)
                {
                    origins.Add((row * StrideSize, column * StrideSize));
                }
            }

            var canvas = zeros(_model.Options.Classes, block.Rows * StrideSize, block.Columns * StrideSize);
            var weight = _model.parameters().First();   // the model's device and precision: the tiles go there, the probabilities come back in fp32
            foreach (var batch in origins.Chunk(BatchSize))
            {
                using var batchScope = NewDisposeScope();
                var tiles = stack(batch.Select(o => window.narrow(1, o.Y, TileSize).narrow(2, o.X, TileSize)).ToList()); // (B, C, T, T)
                var logits = _model.call(tiles.to(weight.dtype, weight.device)).to(ScalarType.Float32, CPU);            // (B, K, out, out); softmax in fp32 on the host
                var probabilities = nn.functional.softmax(logits, dim: 1);
                if (_model.Options.Padding == ConvPadding.Same)
                {
                    probabilities = probabilities.narrow(2, Margin, StrideSize).narrow(3, Margin, StrideSize);
                }

                for (var i = 0; i < batch.Length; i++)
                {
                    canvas.narrow(1, batch[i].Y, StrideSize).narrow(2, batch[i].X, StrideSize).copy_(probabilities[i]);
                }
            }

            return canvas.narrow(1, 0, block.Height).narrow(2, 0, block.Width).contiguous().MoveToOuterDisposeScope();  // (K, h, w)
        }
        finally
        {
            _model.train(wasTraining);
        }
    }

    private void RequireImage(Tensor image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.dim() != 3 || image.shape[0] != _model.Options.InputChannels)
        {
            throw new ArgumentException(
                $"Expected an image of shape ({_model.Options.InputChannels}, H, W); got ({string.Join(", ", image.shape)}).", nameof(image));
        }
    }
}

/// <summary>
/// A block of an image's output tiles (<see cref="OverlapTilePredictor.Blocks"/>): tile rows <see cref="Row"/>.. and
/// columns <see cref="Column"/>.. of the tile grid, and the pixels it predicts (<see cref="Top"/>, <see cref="Left"/>,
/// <see cref="Height"/> x <see cref="Width"/>, cut at the image's border).
/// </summary>
public sealed record TileBlock(int Row, int Column, int Rows, int Columns, long Top, long Left, long Height, long Width);
